"""``--dry-run`` of a Slurm sweep: the ``sbatch`` command lines and batch scripts that its
first submission would make (:mod:`~slc_tui.engine.slurm_batch` builds them, as it does for
the real one); nothing is written or submitted."""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from slc_tui.engine.rundir import payload_path
from slc_tui.engine.slurm_batch import ARRAY_MAX, Queued, job_of, queued_run
from slc_tui.errors import SlcError
from slc_tui.plan import GridPlan
from slc_tui.slurm_conf import validate_slurm_table
from slc_tui.slurm_job import resource_flags

SHOWN_TASKS = 3
"""Runs of an array written out in its script; the others are counted."""


def print_batch_jobs(
    plans: Sequence[GridPlan], table: dict[str, Any], mpiexec: str | None, out: IO[str]
) -> None:
    """Print what would be submitted first: one array per grid and shape (or, with
    ``array = false``, the first run's job), each with its script."""
    conf = validate_slurm_table(table)
    arrays: dict[tuple[str, tuple[str, ...]], tuple[GridPlan, list[int]]] = {}
    for plan in plans:
        for i in range(len(plan.runs)):
            run = plan.runs[i]
            key = (plan.name, tuple(resource_flags(conf, run.num_cpu, run.gpus)))
            arrays.setdefault(key, (plan, []))[1].append(i)
    jobs = sum(-(-len(rows) // ARRAY_MAX) for _, rows in arrays.values())
    what = f"{jobs:,} array job{'s' if jobs != 1 else ''}" if conf["array"] else "one job per run"
    out.write(f"\nSlurm: {what} (sbatch's command line, then its script on stdin):\n")
    try:
        for plan, rows in arrays.values():
            items = [_queued(conf, plan, i, mpiexec) for i in rows[:SHOWN_TASKS]]
            if conf["array"]:
                links = Path(items[0].links, "PID-N")
                args, script = job_of(conf, items, os.getcwd(), links, min(len(rows), ARRAY_MAX))
            else:
                args, script = job_of(conf, items[:1], os.getcwd(), None)
            out.write(f"\n$ {shlex.join(args)} <<'EOF'\n{script}EOF\n")
            if not conf["array"]:
                break  # every other run's job is the same but for its own run
    except (SlcError, OSError) as exc:
        out.write(f"  (cannot show the batch script: {exc})\n")


def _queued(conf: dict[str, Any], plan: GridPlan, i: int, mpiexec: str | None) -> Queued:
    run = plan.runs[i]
    return queued_run(conf, run, payload_path(plan.data_dir, run), 1, mpiexec)


__all__ = ["print_batch_jobs"]
