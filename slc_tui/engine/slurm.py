"""The Slurm backend: runs as tasks of job arrays (or one job each), followed with one
``squeue`` call per poll for the whole sweep.

:meth:`SlurmExecutor.start` queues a run; :meth:`~SlurmExecutor.flush`, once per turn of the
engine's loop, submits the runs started in that turn: one array per shape
(:mod:`~slc_tui.engine.slurm_batch`), ``[slurm] max_jobs`` of its tasks at once (``%M``).
With ``array = false`` each run is one job, submitted by ``start`` itself. A run of
``num_cpu`` ranks asks ``--ntasks=num_cpu``; its ranks start inside the allocation with the
same ``mpiexec`` as locally, or with ``srun`` (``launcher = "srun"``). A task's job id is
``JOB_TASK``. The queue is looked at with backoff (:mod:`~slc_tui.engine.slurm_backoff`).
A job that Slurm requeued, preempted or lost to a node failure is replaced by a new
attempt (``Exited.requeue``), at most ``max_requeues`` times per run. Jobs outlive the
engine: a resumed engine follows them again with :meth:`SlurmExecutor.adopt`.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from slc_tui.engine import slurm_cli as cli
from slc_tui.engine.executor import Exited, Launched, drain
from slc_tui.engine.rundir import starting_log
from slc_tui.engine.slots import Grant
from slc_tui.engine.slurm_backoff import Backoff
from slc_tui.engine.slurm_batch import (
    Queued,
    Visibility,
    drop_link,
    groups,
    queued_run,
    submit_array,
    submit_job,
)
from slc_tui.engine.slurm_cli import SlurmError
from slc_tui.engine.slurm_parse import JobInfo, base_id
from slc_tui.engine.slurm_track import Job, alive, end_of, queue_word, requeued, stopped
from slc_tui.plan import Run
from slc_tui.slurm_conf import validate_slurm_table

__all__ = ["SlurmError", "SlurmExecutor"]


class SlurmExecutor:
    """Submits runs as Slurm array tasks or jobs and follows them; see the module docstring."""

    def __init__(self, table: dict[str, Any] | None = None, mpiexec: str | None = None) -> None:
        self.conf = validate_slurm_table(table or {})
        """The validated ``[slurm]`` table."""
        self.poll_interval: float = self.conf["poll_interval"]
        self.max_jobs: int | None = self.conf["max_jobs"]
        """Tasks of an array running at once (``%M``); jobs in flight with ``array = false``."""
        self.array: bool = self.conf["array"]
        self.backoff = Backoff(self.poll_interval, self.conf["max_poll_interval"])
        """The wait before the next look at the queue."""
        self.queries = 0
        """``squeue`` calls made (one per poll for the whole sweep)."""
        self.last_error = ""
        """The last failed Slurm query (the engine retries at the next poll)."""
        self._mpiexec = mpiexec
        self._jobs: dict[str, Job] = {}
        self._queued: list[Queued] = []
        self._unsubmitted: list[Exited] = []
        self._next_poll = 0.0
        self._changes: dict[str, str] = {}
        self._accounting: bool | None = None
        self._visible = Visibility(self.conf.get("partition"))
        self._requeues: Counter[str] = Counter()
        self._adopting: dict[str, dict[str, JobInfo]] = {}
        """Slurm's answers per array while an engine adopts its runs (till the first poll)."""

    # -- the Executor protocol -------------------------------------------------------------
    def start(self, run: Run, payload: Path, attempt: int, grant: Grant) -> Launched:
        """Queue ``run`` for the next :meth:`flush` (with ``array = false``: submit it as a
        job of ``num_cpu`` tasks now; SlurmError with Slurm's refusal)."""
        cli.require("sbatch")
        log = starting_log(run.output_dir)
        log.parent.mkdir(parents=True, exist_ok=True)
        self._visible.check([os.fspath(log), os.fspath(payload), sys.executable])
        item = queued_run(self.conf, run, payload, attempt, self._mpiexec)
        if not self.array:
            job_id, command = submit_job(self.conf, item)
            self._jobs[run.name] = Job(run.name, job_id, run.output_dir)
            self._changes[run.name] = "PENDING"
            self._soon()
            return Launched(pid=None, job_id=job_id, command=command)
        self._queued.append(item)
        self._jobs[run.name] = Job(run.name, None, run.output_dir)
        command = "sbatch --array: " + " ".join(item.task.argv)
        return Launched(pid=None, job_id=None, command=command, queued=True)

    def flush(self) -> dict[str, str]:
        """Submit the queued runs, one array per grid and shape; their ``JOB_TASK`` ids.
        A refused array's runs end (could not start, with Slurm's words) at the next poll."""
        queued, self._queued = self._queued, []
        ids: dict[str, str] = {}
        for items in groups(queued):
            live = [q for q in items if not self._jobs[q.run.name].stopping]
            for item in items:
                if item not in live:  # stopped before it was submitted
                    self._unsubmitted.append(Exited(item.run.name, None, stopped=True))
                    del self._jobs[item.run.name]
            if not live:
                continue
            try:
                job_ids, links = submit_array(self.conf, live)
            except (SlurmError, OSError) as exc:
                for item in live:
                    why = f"could not start: {exc}"
                    self._unsubmitted.append(Exited(item.run.name, None, reason=why))
                    del self._jobs[item.run.name]
                continue
            for i, (item, job_id) in enumerate(zip(live, job_ids)):
                job = self._jobs[item.run.name]
                job.job_id, job.link = job_id, links / str(i)
                self._changes[job.name] = "PENDING"
                ids[job.name] = job_id
        if ids:
            self._soon()
        return ids

    def poll(self) -> list[Exited]:
        """Jobs that ended; asks Slurm when the backoff says (one ``squeue`` call)."""
        ended, self._unsubmitted = self._unsubmitted, []
        self._adopting.clear()
        now = time.monotonic()
        if not any(j.job_id for j in self._jobs.values()) or now < self._next_poll:
            return ended
        found, changed = self._collect()
        self._next_poll = time.monotonic() + self.backoff.after(changed)
        return ended + found

    def stop(self, name: str, grace: float = 5.0) -> None:
        """``scancel`` the run's job (``JOB_TASK``); Slurm sends SIGTERM, then SIGKILL after
        its KillWait."""
        job = self._jobs.get(name)
        if job is None or job.stopping:
            return
        job.stopping = True
        if job.job_id:
            self._cancel([job])
            self._soon()

    def shutdown(self, grace: float = 5.0) -> list[Exited]:
        """Cancel every job of the sweep (one ``scancel``) and wait until Slurm ends them."""
        for job in self._jobs.values():
            job.stopping = True
        self.flush()  # nothing queued is submitted now: each is reported as stopped
        ended, self._unsubmitted = self._unsubmitted, []
        self._cancel(list(self._jobs.values()))
        return ended + drain(lambda: self._collect()[0], lambda: bool(self._jobs), grace + 10, 0.5)

    def close(self) -> None:
        """Nothing to let go of: the jobs are Slurm's."""

    def adopt(self, run: Run, job_id: str) -> bool:
        """Follow job ``job_id`` (``JOB`` or ``JOB_TASK``) of ``run`` again; False when Slurm
        no longer knows it, or it is another run's.

        A job that ended while no engine watched is adopted too: the next poll reports its
        end as Slurm recorded it. Raises SlurmError when Slurm cannot be asked.
        """
        base = base_id(job_id)  # one squeue (and sacct) call per array, not per task
        if base not in self._adopting:
            self._adopting[base] = cli.queue([job_id])
        info = self._adopting[base].get(job_id)
        if info is None:
            if f"{base} ended" not in self._adopting:
                self._adopting[f"{base} ended"] = self._finals([base], whole=True)
            info = self._adopting[f"{base} ended"].get(job_id)
        if info is None or (info.name and info.name not in (run.name, run.grid)):
            return False
        self._jobs[run.name] = Job(run.name, job_id, run.output_dir, info.state,
                                    restarts=info.restarts)  # fmt: skip
        self._changes[run.name] = queue_word(info)
        self._next_poll = 0.0
        return True

    # -- beyond the protocol ---------------------------------------------------------------
    def can_start(self) -> bool:
        """False while ``max_jobs`` jobs are in flight (one job per run only: an array
        takes every run, and Slurm runs ``max_jobs`` of its tasks at once)."""
        return self.array or self.max_jobs is None or len(self._jobs) < self.max_jobs

    @property
    def accounting(self) -> bool | None:
        """Whether ``sacct`` answered (the cluster keeps accounting); None: not asked yet."""
        return self._accounting

    def take_queue_states(self) -> dict[str, str]:
        """Queue states (``PENDING (Priority)``, ``RUNNING``...) that changed since last asked."""
        changes, self._changes = self._changes, {}
        return changes

    def running(self) -> list[str]:
        """Names of the runs whose jobs are in flight (or queued for submission)."""
        return list(self._jobs)

    def job_id(self, name: str) -> str | None:
        """The job id of a run in flight."""
        job = self._jobs.get(name)
        return job.job_id if job else None

    # -- plumbing ----------------------------------------------------------------------------
    def _soon(self) -> None:
        self._next_poll = min(self._next_poll, time.monotonic() + self.backoff.reset())

    def _cancel(self, jobs: list[Job]) -> None:
        todo = [j for j in jobs if not j.cancelled and j.job_id]
        try:
            cli.cancel([str(j.job_id) for j in todo])
        except SlurmError as exc:
            self.last_error = str(exc)  # retried at the next poll
            return
        for job in todo:
            job.cancelled = True

    def _collect(self) -> tuple[list[Exited], bool]:
        """The ends seen in one look at the queue, and whether anything changed."""
        self._cancel([j for j in self._jobs.values() if j.stopping])
        tracked = [j for j in self._jobs.values() if j.job_id]
        try:
            infos = cli.queue([str(j.job_id) for j in tracked])
        except SlurmError as exc:
            self.last_error = str(exc)
            return [], False
        self.queries += 1
        ended: list[Exited] = []
        done: dict[str, JobInfo | None] = {}
        changed = False
        for job in tracked:
            info = infos.get(str(job.job_id))
            if info is not None and not job.stopping and requeued(job, info):
                ended.append(self._replace(job, info))
            elif info is not None and info.active and not (job.stopping and not alive(info)):
                word = queue_word(info)
                if word != job.queue_state:
                    job.queue_state = self._changes[job.name] = word
                    changed = True
            else:
                done[str(job.job_id)] = info
        if done:
            finals = self._finals([i for i, info in done.items() if not stopped(info)])
            for job in [j for j in tracked if j.job_id in done]:
                info = finals.get(str(job.job_id)) or done[str(job.job_id)]
                ended.append(self._exited(job, info))
                self._changes[job.name] = info.state if info else "GONE"
                self._forget(job)
        return ended, changed or bool(ended)

    def _replace(self, job: Job, info: JobInfo) -> Exited:
        """A job Slurm put back in the queue: cancel it; the run gets a new attempt."""
        self._cancel([job])
        self._changes[job.name] = "REQUEUED"
        self._forget(job)
        why = f"REQUEUED: Slurm requeued the job ({info.state} {info.reason})".replace(" )", ")")
        return self._requeue_end(job.name, why, None, None)

    def _requeue_end(self, name: str, why: str, code: int | None, sig: int | None) -> Exited:
        self._requeues[name] += 1
        if self._requeues[name] > self.conf["max_requeues"]:
            return Exited(name, code or None, sig, reason=f"{why}; requeued too often "
                          f"(max_requeues = {self.conf['max_requeues']})")  # fmt: skip
        return Exited(name, code or None, sig, reason=f"{why}; a new attempt", requeue=True)

    def _forget(self, job: Job) -> None:
        self._jobs.pop(job.name, None)
        if job.link is not None:
            drop_link(job.link)

    def _finals(self, job_ids: list[str], whole: bool = False) -> dict[str, JobInfo]:
        """Final states with exit codes: one ``sacct`` call when the cluster keeps
        accounting, else ``scontrol show job`` once per array (the controller keeps ended
        jobs for MinJobAge). ``whole``: every task of the arrays named by ``job_ids``."""
        out: dict[str, JobInfo] = {}
        if job_ids and self._accounting is not False:
            try:
                acct = cli.accounting(job_ids)
            except SlurmError:
                acct = None
            self._accounting = acct is not None
            out.update({k: v for k, v in (acct or {}).items() if not v.active})
        for base in dict.fromkeys(base_id(j) for j in job_ids if j not in out):
            try:
                shown = cli.show_jobs(base)
            except SlurmError as exc:
                self.last_error, shown = str(exc), {}
            out.update({k: v for k, v in shown.items() if (whole or k in job_ids) and k not in out})
        return out

    def _exited(self, job: Job, info: JobInfo | None) -> Exited:
        end = end_of(job, info)
        if end.requeue:  # preempted, a node failed: not the run's fault
            return self._requeue_end(job.name, end.reason, end.exit_code, end.signal)
        return end
