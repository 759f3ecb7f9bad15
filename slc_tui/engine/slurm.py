"""The Slurm backend: each run one batch job, followed with one ``squeue`` call per poll.

A run of ``num_cpu`` ranks asks ``--ntasks=num_cpu``; its ranks start inside the allocation
with the same ``mpiexec`` as locally (MPICH's hydra sees the allocation and launches through
``srun``), or with ``srun --mpi=pmi2`` when ``launcher = "srun"``. The job writes ``output.log``
(``--output``) beside the run's output directory until the run makes it, then in it (see
:mod:`slc_tui.engine.rundir`); both must be on a file system the nodes see. Jobs outlive
the engine: a resumed engine follows them again with :meth:`SlurmExecutor.adopt`.
"""

from __future__ import annotations

import os
import shlex
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slc_tui.engine import slurm_cli as cli
from slc_tui.engine.executor import Exited, Launched, drain
from slc_tui.engine.rundir import log_env, log_path, starting_log
from slc_tui.engine.slots import Grant
from slc_tui.engine.slurm_cli import JobInfo, SlurmError
from slc_tui.launch import run_command, run_env
from slc_tui.plan import Run
from slc_tui.procid import CORES_ENV, ENGINE_ENV
from slc_tui.slurm_conf import (
    job_script,
    sbatch_args,
    srun_command,
    validate_slurm_table,
)

__all__ = ["SlurmError", "SlurmExecutor"]

LOCAL_FILE_SYSTEMS = frozenset({"tmpfs", "ramfs", "devtmpfs"})
"""File-system types that no other machine can see."""
_REASONS = {
    "TIMEOUT": "TIMEOUT: the job reached its Slurm time limit{limit}",
    "OUT_OF_MEMORY": "OUT_OF_MEMORY: the job used more memory than it asked for",
    "NODE_FAIL": "NODE_FAIL: a node of the job failed",
    "BOOT_FAIL": "BOOT_FAIL: a node of the job failed to boot",
    "PREEMPTED": "PREEMPTED: Slurm preempted the job",
    "DEADLINE": "DEADLINE: the job reached its deadline",
}


@dataclass
class _Job:
    name: str
    job_id: str
    output_dir: str
    """The run's folder (its log is in it, or beside it: :func:`~.rundir.log_path`)."""
    queue_state: str = "PENDING"
    stopping: bool = False
    """True once we asked Slurm to cancel it."""
    cancelled: bool = False
    """True once ``scancel`` went through."""


class SlurmExecutor:
    """Submits runs as Slurm batch jobs and follows them; see the module docstring."""

    def __init__(self, table: dict[str, Any] | None = None, mpiexec: str | None = None) -> None:
        self.conf = validate_slurm_table(table or {})
        """The validated ``[slurm]`` table."""
        self.poll_interval: float = self.conf["poll_interval"]
        self.max_jobs: int | None = self.conf["max_jobs"]
        """Jobs in flight at most (None: no limit of ours)."""
        self.last_error = ""
        """The last failed Slurm query (the engine retries at the next poll)."""
        self._mpiexec = mpiexec
        self._jobs: dict[str, _Job] = {}
        self._next_poll = 0.0
        self._changes: dict[str, str] = {}
        self._accounting: bool | None = None
        self._nodes: set[str] | None = None
        self._visible: set[str] = set()

    # -- the Executor protocol -------------------------------------------------------------
    def start(self, run: Run, payload: Path, attempt: int, grant: Grant) -> Launched:
        """Submit ``run`` as a job of ``num_cpu`` tasks; SlurmError with Slurm's refusal."""
        log = starting_log(run.output_dir)
        log.parent.mkdir(parents=True, exist_ok=True)
        self._check_visible([os.fspath(log), os.fspath(payload), sys.executable])
        if run.num_cpu > 1 and self.conf["launcher"] == "srun":
            argv = srun_command(self.conf, run_command(payload, 1))
        else:
            argv = run_command(payload, run.num_cpu, self._mpiexec or run.options.mpiexec)
        env = run_env(run.num_cpu)
        for var in (ENGINE_ENV, CORES_ENV):  # a job outlives the engine and picks its cores
            env.pop(var, None)
        env.update(log_env(run.output_dir))
        args = sbatch_args(
            self.conf, name=run.name, ntasks=run.num_cpu, log=str(log), chdir=os.getcwd()
        )
        script = job_script(argv, run.name, attempt, unset=(ENGINE_ENV, CORES_ENV))
        job_id = cli.submit(args, script, env)
        self._jobs[run.name] = _Job(run.name, job_id, run.output_dir)
        self._changes[run.name] = "PENDING"
        return Launched(pid=None, job_id=job_id, command=f"{shlex.join(args)}: {shlex.join(argv)}")

    def poll(self) -> list[Exited]:
        """Jobs that ended; asks Slurm at most every ``poll_interval`` seconds."""
        now = time.monotonic()
        if not self._jobs or now < self._next_poll:
            return []
        self._next_poll = now + self.poll_interval
        return self._collect()

    def stop(self, name: str, grace: float = 5.0) -> None:
        """``scancel`` the run's job; Slurm sends SIGTERM, then SIGKILL after its KillWait."""
        job = self._jobs.get(name)
        if job is None or job.stopping:
            return
        job.stopping = True
        self._cancel([job])

    def shutdown(self, grace: float = 5.0) -> list[Exited]:
        """Cancel every job of the sweep (one ``scancel``) and wait until Slurm ends them."""
        jobs = list(self._jobs.values())
        for job in jobs:
            job.stopping = True
        self._cancel(jobs)
        return drain(self._collect, lambda: bool(self._jobs), grace + 10, 0.5)

    def close(self) -> None:
        """Nothing to let go of: the jobs are Slurm's."""

    def adopt(self, run: Run, job_id: str) -> bool:
        """Follow job ``job_id`` of ``run`` again; False when Slurm no longer knows it.

        A job that ended while no engine watched is adopted too: the next poll reports its
        end as Slurm recorded it. Raises SlurmError when Slurm cannot be asked.
        """
        info = cli.queue([job_id]).get(job_id)
        if info is None:
            info = (self._finals([job_id]) or {}).get(job_id)
        if info is None or (info.name and info.name != run.name):
            return False
        job = _Job(run.name, job_id, run.output_dir, queue_state=info.state)
        self._jobs[run.name] = job
        self._changes[run.name] = _queue_word(info)
        self._next_poll = 0.0
        return True

    # -- beyond the protocol ---------------------------------------------------------------
    def can_start(self) -> bool:
        """False while ``max_jobs`` jobs are in flight."""
        return self.max_jobs is None or len(self._jobs) < self.max_jobs

    def take_queue_states(self) -> dict[str, str]:
        """Queue states (``PENDING (Priority)``, ``RUNNING``...) that changed since last asked."""
        changes, self._changes = self._changes, {}
        return changes

    def running(self) -> list[str]:
        """Names of the runs whose jobs are in flight."""
        return list(self._jobs)

    def job_id(self, name: str) -> str | None:
        """The job id of a run in flight."""
        job = self._jobs.get(name)
        return job.job_id if job else None

    # -- plumbing ----------------------------------------------------------------------------
    def _cancel(self, jobs: list[_Job]) -> None:
        todo = [j for j in jobs if not j.cancelled]
        try:
            cli.cancel([j.job_id for j in todo])
        except SlurmError as exc:
            self.last_error = str(exc)  # retried at the next poll
            return
        for job in todo:
            job.cancelled = True

    def _collect(self) -> list[Exited]:
        self._cancel([j for j in self._jobs.values() if j.stopping])
        try:
            infos = cli.queue([j.job_id for j in self._jobs.values()])
        except SlurmError as exc:
            self.last_error = str(exc)
            return []
        done: dict[str, JobInfo | None] = {}
        for job in self._jobs.values():
            info = infos.get(job.job_id)
            if info is not None and info.active and not (job.stopping and not _alive(info)):
                word = _queue_word(info)
                if word != job.queue_state:
                    job.queue_state = self._changes[job.name] = word
                continue
            done[job.job_id] = info
        if not done:
            return []
        finals = self._finals([i for i, info in done.items() if not _stopped(info)])
        ended = []
        for job in [j for j in self._jobs.values() if j.job_id in done]:
            info = finals.get(job.job_id) or done[job.job_id]
            ended.append(self._exited(job, info))
            self._changes[job.name] = info.state if info else "GONE"
            del self._jobs[job.name]
        return ended

    def _finals(self, job_ids: list[str]) -> dict[str, JobInfo]:
        """Final states with exit codes: ``sacct`` when the cluster keeps accounting, else
        ``scontrol show job`` (the controller keeps ended jobs for MinJobAge)."""
        out: dict[str, JobInfo] = {}
        if job_ids and self._accounting is not False:
            try:
                acct = cli.accounting(job_ids)
            except SlurmError:
                acct = None
            self._accounting = acct is not None
            out.update({k: v for k, v in (acct or {}).items() if not v.active})
        for job_id in job_ids:
            if job_id not in out:
                try:
                    info = cli.show_job(job_id)
                except SlurmError as exc:
                    self.last_error, info = str(exc), None
                if info is not None:
                    out[job_id] = info
        return out

    def _exited(self, job: _Job, info: JobInfo | None) -> Exited:
        if info is None:
            reason = "Slurm no longer knows the job (it ended long ago, or was purged)"
            return Exited(job.name, None, reason=reason, stopped=job.stopping)
        code, sig, state = info.exit_code, info.signal, info.state
        if state == "COMPLETED" and not code:
            return Exited(job.name, 0)
        if state == "CANCELLED" or job.stopping:
            reason = "" if job.stopping else f"cancelled outside slc-tui {info.reason}".strip()
            return Exited(job.name, code or None, sig, reason=reason, stopped=True)
        limit = f" ({info.time_limit})" if info.time_limit else ""
        reason = _REASONS.get(state, "").format(limit=limit)
        log = log_path(job.output_dir)
        if not log.exists():
            reason = (
                f"{state} ({info.reason or 'no output'}): the job wrote no {log}; is "
                f"{log.parent} on a file system the nodes can see?"
            )
        elif not reason and state != "FAILED":
            reason = f"{state} {info.reason}".strip()
        return Exited(job.name, code or None, sig, reason=reason)

    def _check_visible(self, paths: list[str]) -> None:
        """Refuse paths on a tmpfs when the jobs may land on other machines than this one."""
        if self._nodes is None:
            self._nodes = cli.partition_nodes(self.conf.get("partition"))
        host = socket.gethostname()
        if not self._nodes or self._nodes <= {host, host.split(".")[0], "localhost"}:
            return
        for path in paths:
            folder = os.path.dirname(os.path.abspath(path))
            if folder in self._visible:
                continue
            kind = cli.fs_type(folder)
            if kind in LOCAL_FILE_SYSTEMS:
                raise SlurmError(
                    f"{path} is on a {kind} file system of this machine, which the Slurm nodes "
                    "cannot see: put data_dir (and the Python environment) on the shared file "
                    "system"
                )
            self._visible.add(folder)


def _queue_word(info: JobInfo) -> str:
    if info.state == "PENDING" and info.reason:
        return f"PENDING ({info.reason})"
    return info.state


def _alive(info: JobInfo) -> bool:
    """False for a job on its way out (COMPLETING after a cancel)."""
    return info.state != "COMPLETING"


def _stopped(info: JobInfo | None) -> bool:
    return info is not None and info.state == "COMPLETING"
