"""The batch job of a Slurm sweep: the ``sbatch`` command line and the script fed to it.

One run is one :class:`Task`: its command, the variables only it has, its log. A job array
holds several tasks; its script picks the task's run by ``$SLURM_ARRAY_TASK_ID`` (a ``case``),
so each task runs its own run. Pure functions: :mod:`slc_tui.engine.slurm` submits what they
make, ``--dry-run`` shows it.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slc_tui.slurm_conf import signal_name

PREEMPT_SIGNAL_ENV = "SLC_TUI_PREEMPT_SIGNAL"
"""Set in a job when ``[slurm] signal`` is: the signal's name (``USR1``), the run's cue to
checkpoint before its time limit or a preemption."""
_FLAGS = {
    "partition": "--partition", "time": "--time", "mem": "--mem",
    "mem_per_cpu": "--mem-per-cpu", "account": "--account", "qos": "--qos",
    "nodes": "--nodes", "cpus_per_task": "--cpus-per-task",
}  # fmt: skip


@dataclass(frozen=True)
class Task:
    """One attempt of one run, as a job (or a task of an array) runs it."""

    name: str
    attempt: int
    argv: tuple[str, ...]
    """The run's command (``[mpiexec -n N] python -m slc_tui.entrypoint PAYLOAD``)."""
    exports: tuple[tuple[str, str], ...]
    """Variables this run has that the submitting environment lacks (its log's, MPI's)."""
    log: str
    """Where its output goes (``output.log``, or beside its folder: see engine.rundir)."""


def resource_flags(conf: dict[str, Any], num_cpu: int, gpus: float = 0) -> list[str]:
    """The ``sbatch`` flags a run asks for itself: runs with equal flags share one array.

    The one place for a per-run resource request (the ``[slurm]`` table's flags, the same
    for every run of the sweep, are in :func:`sbatch_args`). ``gpus`` (whole devices per
    run) is asked as ``[slurm] gpu_request`` says: ``--gres=gpu:N`` (the default),
    ``--gpus=N`` for the job, or ``--gpus-per-task=N/ranks``.
    """
    flags = [f"--ntasks={num_cpu}"]
    if gpus:
        n = int(gpus)
        how = conf.get("gpu_request") or "gres"
        if how == "gpus-per-task":
            flags.append(f"--gpus-per-task={max(1, n // num_cpu)}")
        elif how == "gpus":
            flags.append(f"--gpus={n}")
        else:
            flags.append(f"--gres=gpu:{n}")
    return flags


def array_spec(count: int, max_jobs: int | None) -> str:
    """``--array`` of ``count`` tasks, at most ``max_jobs`` of them running at once."""
    return f"0-{count - 1}" + (f"%{max_jobs}" if max_jobs else "")


def sbatch_args(
    conf: dict[str, Any], *, name: str, resources: Sequence[str], log: str, chdir: str,
    array: str | None = None,
) -> list[str]:  # fmt: skip
    """The ``sbatch`` command line of one job or array (its script comes on stdin)."""
    args = ["sbatch", "--parsable", f"--job-name={name}", *resources, f"--output={log}",
            "--open-mode=append", f"--chdir={chdir}"]  # fmt: skip
    if array:
        args.append(f"--array={array}")
    args += [f"{flag}={conf[key]}" for key, flag in _FLAGS.items() if conf.get(key) is not None]
    if conf.get("requeue") is not None:
        args.append("--requeue" if conf["requeue"] else "--no-requeue")
    if conf.get("signal"):
        args.append(f"--signal={conf['signal']}")
    return args + list(conf.get("extra_args") or [])


def batch_script(
    tasks: Sequence[Task], *, array: bool, unset: Sequence[str] = (), signal: str | None = None,
    more: int = 0,
) -> str:  # fmt: skip
    """The batch script: drop the local-only variables, then ``exec`` the run's command (in
    an array: the command of the task's run). ``more``: tasks left out (for ``--dry-run``)."""
    lines = ["#!/bin/sh"]
    if unset:
        lines.append("unset " + " ".join(unset))
    if signal:
        lines.append(f"export {PREEMPT_SIGNAL_ENV}={signal_name(signal)}")
    if not array:
        (task,) = tasks
        return "\n".join([*lines, f"# slc-tui run {task.name}, attempt {task.attempt}",
                          *_body(task)]) + "\n"  # fmt: skip
    lines += [f"# slc-tui: {len(tasks) + more} runs, one per array task",
              'case "$SLURM_ARRAY_TASK_ID" in']  # fmt: skip
    for i, task in enumerate(tasks):
        lines.append(f"{i})  # {task.name}, attempt {task.attempt}")
        lines += ["    " + line for line in _body(task)] + ["    ;;"]
    if more:
        lines.append(
            f"# ... {more:,} more runs, one per task ({len(tasks)}-{len(tasks) + more - 1})"
        )
    lines += ["esac", 'echo "slc-tui: no run for array task $SLURM_ARRAY_TASK_ID" >&2', "exit 2"]
    return "\n".join(lines) + "\n"


def _body(task: Task) -> list[str]:
    out = []
    if task.exports:
        out.append("export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in task.exports))
    return [*out, "exec " + shlex.join(task.argv)]


def srun_command(conf: dict[str, Any], argv: Sequence[str]) -> list[str]:
    """``srun`` starting the ranks of an MPI run (``launcher = "srun"``)."""
    return ["srun", f"--mpi={conf.get('srun_mpi') or 'pmi2'}", "--kill-on-bad-exit=1", *argv]
