"""What the Slurm backend knows of a job it follows, and how Slurm's word for a job becomes
the run's end (pure: no Slurm call)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from slc_tui.engine.executor import Exited
from slc_tui.engine.rundir import log_path
from slc_tui.engine.slurm_parse import REQUEUE_ENDS, REQUEUED, JobInfo

REASONS = {
    "TIMEOUT": "TIMEOUT: the job reached its Slurm time limit{limit}",
    "OUT_OF_MEMORY": "OUT_OF_MEMORY: the job used more memory than it asked for",
    "NODE_FAIL": "NODE_FAIL: a node of the job failed",
    "BOOT_FAIL": "BOOT_FAIL: a node of the job failed to boot",
    "PREEMPTED": "PREEMPTED: Slurm preempted the job",
    "DEADLINE": "DEADLINE: the job reached its deadline",
}
"""The reason of a run whose job ended in one of these states."""


@dataclass
class Job:
    """A run's job (or array task) that the backend follows."""

    name: str
    job_id: str | None
    """``1234`` or ``1234_7``; None until the run's array is submitted."""
    output_dir: str
    """The run's folder (its log is in it, or beside it: :func:`~.rundir.log_path`)."""
    queue_state: str = "PENDING"
    stopping: bool = False
    """True once we asked Slurm to cancel it."""
    cancelled: bool = False
    """True once ``scancel`` went through."""
    restarts: int = 0
    """Slurm's restart count when we began to follow it (a higher one: requeued)."""
    link: Path | None = None
    """The array's link to the task's log."""


def requeued(job: Job, info: JobInfo) -> bool:
    """Whether Slurm put the job back in the queue since we began to follow it."""
    return info.restarts > job.restarts or info.state in REQUEUED


def queue_word(info: JobInfo) -> str:
    """The run's queue state: ``PENDING (Priority)``, ``RUNNING``..."""
    if info.state == "PENDING" and info.reason:
        return f"PENDING ({info.reason})"
    return info.state


def alive(info: JobInfo) -> bool:
    """False for a job on its way out (COMPLETING after a cancel)."""
    return info.state != "COMPLETING"


def stopped(info: JobInfo | None) -> bool:
    """True for a job Slurm is ending (no final state to ask for yet)."""
    return info is not None and info.state == "COMPLETING"


def end_of(job: Job, info: JobInfo | None) -> Exited:
    """The end of ``job`` as Slurm reports it (``info``; None: Slurm forgot it).
    ``requeue`` is set for the ends that are no fault of the run (preempted, node failure)."""
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
    reason = REASONS.get(state, "").format(limit=limit)
    if state in REQUEUE_ENDS:
        return Exited(job.name, code or None, sig, reason=reason, requeue=True)
    log = log_path(job.output_dir)
    if not log.exists():
        reason = (
            f"{state} ({info.reason or 'no output'}): the job wrote no {log}; is "
            f"{log.parent} on a file system the nodes can see?"
        )
    elif not reason and state != "FAILED":
        reason = f"{state} {info.reason}".strip()
    return Exited(job.name, code or None, sig, reason=reason)
