"""Runs the Slurm backend submits together: one job array per shape, or one job per run.

:meth:`~slc_tui.engine.slurm.SlurmExecutor.start` queues a run as a :class:`Queued` (its
:class:`~slc_tui.slurm_job.Task`); ``flush`` submits the queue. Runs of one grid with the
same per-run resource flags (:func:`~slc_tui.slurm_job.resource_flags`) go in one array of
at most :data:`ARRAY_MAX` tasks. Slurm writes task N's output to ``--output=DIR/%a``, where
``DIR/N`` is a symbolic link (in the grid's ``.slc-tui/arrays/``) to that run's own log.
"""

from __future__ import annotations

import itertools
import os
import shlex
import socket
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slc_tui.engine import slurm_cli as cli
from slc_tui.engine.ledger_fs import fs_type
from slc_tui.engine.paths import private_dir
from slc_tui.engine.rundir import log_env, starting_log
from slc_tui.launch import run_command, run_env
from slc_tui.plan import Run
from slc_tui.procid import CORES_ENV, ENGINE_ENV
from slc_tui.slurm_job import (
    Task,
    array_spec,
    batch_script,
    resource_flags,
    sbatch_args,
    srun_command,
)

LOCAL_FILE_SYSTEMS = frozenset({"tmpfs", "ramfs", "devtmpfs"})
"""File-system types that no other machine can see."""
ARRAY_MAX = 1000
"""Tasks of one array at most (Slurm's default ``MaxArraySize`` is 1001: indices 0-1000)."""
UNSET = (ENGINE_ENV, CORES_ENV)
"""Variables of the engine's own that a job must not inherit (it outlives the engine)."""
ARRAYS = "arrays"
"""The folder, in a grid's state folder, of the arrays' links to their tasks' logs."""


@dataclass
class Queued:
    """A run started and not yet submitted."""

    run: Run
    task: Task
    resources: tuple[str, ...]
    """Its per-run flags: the runs of one array have equal ones."""
    links: Path
    """Where an array holding it links its tasks' logs (``DATA/.slc-tui/GRID/arrays``)."""


def queued_run(
    conf: dict[str, Any], run: Run, payload: Path, attempt: int, mpiexec: str | None
) -> Queued:
    """The task of one attempt of ``run``: its command, its own variables, its log."""
    if run.num_cpu > 1 and conf["launcher"] == "srun":
        argv = srun_command(conf, run_command(payload, 1))
    else:
        argv = run_command(payload, run.num_cpu, mpiexec or run.options.mpiexec)
    threads = conf.get("cpus_per_task") or 1  # threads per rank
    exports = {**run_env(run.num_cpu, base={}, threads=threads, given_threads=run.options.threads),
               **log_env(run.output_dir)}  # fmt: skip
    task = Task(run.name, attempt, tuple(argv), tuple(exports.items()),
                os.path.abspath(starting_log(run.output_dir)))  # fmt: skip
    links = payload.parent.parent / ARRAYS  # DATA/.slc-tui/GRID/payloads/NAME.pkl
    return Queued(run, task, tuple(resource_flags(conf, run.num_cpu, run.gpus)), links)


def groups(queued: Sequence[Queued]) -> Iterator[list[Queued]]:
    """The arrays of a queue: one per grid and shape, in start order, at most ARRAY_MAX each."""
    by_key: dict[tuple[str, tuple[str, ...]], list[Queued]] = {}
    for item in queued:
        by_key.setdefault((item.run.grid, item.resources), []).append(item)
    for items in by_key.values():
        for i in range(0, len(items), ARRAY_MAX):
            yield items[i : i + ARRAY_MAX]


def job_of(
    conf: dict[str, Any], items: Sequence[Queued], chdir: str, links: Path | None,
    count: int | None = None,
) -> tuple[list[str], str]:  # fmt: skip
    """``sbatch``'s command line and script for ``items``: an array when ``links`` (its
    folder of links) is given, else one plain job of the one item. ``count``: the array's
    size when ``items`` are only its first tasks (``--dry-run``)."""
    count = len(items) if count is None else count
    first = items[0]
    if links is None:
        args = sbatch_args(conf, name=first.run.name, resources=first.resources,
                           log=first.task.log, chdir=chdir)  # fmt: skip
    else:
        args = sbatch_args(conf, name=first.run.grid, resources=first.resources,
                           log=f"{links}/%a", chdir=chdir,
                           array=array_spec(count, conf.get("max_jobs")))  # fmt: skip
    tasks = [item.task for item in items]
    script = batch_script(tasks, array=links is not None, unset=UNSET, signal=conf.get("signal"),
                          more=count - len(items))  # fmt: skip
    return args, script


def submission_env() -> dict[str, str]:
    """The environment ``sbatch`` runs in (and passes to the job): ours, less :data:`UNSET`."""
    return {k: v for k, v in os.environ.items() if k not in UNSET}


def submit_job(conf: dict[str, Any], item: Queued) -> tuple[str, str]:
    """Submit one run as one plain job; its job id, and the command for the details panel."""
    args, script = job_of(conf, [item], os.getcwd(), None)
    job_id = cli.submit(args, script, submission_env())
    return job_id, f"{shlex.join(args)}: {shlex.join(item.task.argv)}"


_serial = itertools.count(1)


def submit_array(conf: dict[str, Any], items: Sequence[Queued]) -> tuple[list[str], Path]:
    """Submit ``items`` as one array; the job id of each (``JOB_TASK``) and the links' folder.

    Raises:
        SlurmError: Slurm refused it (the links are removed again).
    """
    root = private_dir(items[0].links)
    links = root / f"{os.getpid()}-{next(_serial)}"
    links.mkdir(mode=0o700)
    for i, item in enumerate(items):
        os.symlink(item.task.log, links / str(i))
    args, script = job_of(conf, items, os.getcwd(), links)
    try:
        job_id = cli.submit(args, script, submission_env())
    except BaseException:
        for i in range(len(items)):
            drop_link(links / str(i))
        raise
    return [f"{job_id}_{i}" for i in range(len(items))], links


class Visibility:
    """Refuses paths on a tmpfs when the jobs may land on other machines than this one."""

    def __init__(self, partition: str | None) -> None:
        self.partition = partition
        self._nodes: set[str] | None = None
        self._seen: set[str] = set()

    def check(self, paths: list[str]) -> None:
        """SlurmError naming the first path the nodes cannot see."""
        if self._nodes is None:
            self._nodes = cli.partition_nodes(self.partition)
        host = socket.gethostname()
        if not self._nodes or self._nodes <= {host, host.split(".")[0], "localhost"}:
            return
        for path in paths:
            folder = os.path.dirname(os.path.abspath(path))
            if folder in self._seen:
                continue
            kind = fs_type(folder)
            if kind in LOCAL_FILE_SYSTEMS:
                raise cli.SlurmError(
                    f"{path} is on a {kind} file system of this machine, which the Slurm nodes "
                    "cannot see: put data_dir (and the Python environment) on the shared file "
                    "system"
                )
            self._seen.add(folder)


def drop_link(link: Path) -> None:
    """Remove the link of an array task that ended, and its folder once the last one went."""
    with suppress(OSError):
        os.unlink(link)
    with suppress(OSError):
        link.parent.rmdir()  # fails while other tasks of the array are in flight
