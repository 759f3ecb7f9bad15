"""Slurm's answers read: ``squeue``, ``sacct`` and ``scontrol`` lines as :class:`JobInfo`.

A job is named by its id, ``1234``, or for a task of an array ``1234_7`` (the array's id and
the task's index), as ``scancel`` and ``squeue -j`` take it. Pure functions, tested without
Slurm.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ACTIVE = frozenset(
    {
        "PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED",
        "REQUEUE_FED", "REQUEUE_HOLD", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED",
        "RESV_DEL_HOLD", "SPECIAL_EXIT", "POWER_UP_NODE", "UPDATE_DB",
    }
)  # fmt: skip
"""Job states from which a job still moves on by itself."""
REQUEUED = frozenset({"REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD"})
"""States of a job that Slurm put back into the queue (preempted, node failed, requeued)."""
REQUEUE_ENDS = frozenset({"PREEMPTED", "NODE_FAIL", "BOOT_FAIL"})
"""Final states that are no fault of the run: it gets a new attempt (``[slurm] max_requeues``)."""
SQUEUE_FORMAT = "JobArrayID:|,State:|,RestartCnt:|,Reason:|,Name:|"
"""``squeue -O``: one line per job or array task (with ``-r``), the name last."""
SACCT_FIELDS = "JobID,State,ExitCode,Timelimit,JobName"
_SCONTROL_FIELD = re.compile(r"(?:^|\s)([A-Za-z][\w/:]*)=(\S*)")


@dataclass
class JobInfo:
    """A job (or a task of an array) as Slurm reports it."""

    job_id: str
    """``1234``, or ``1234_7`` for task 7 of array 1234."""
    state: str
    """The base state word: ``PENDING``, ``RUNNING``, ``TIMEOUT``, ``CANCELLED``..."""
    reason: str = ""
    """Slurm's reason (why it pends, why it ended)."""
    name: str = ""
    exit_code: int | None = None
    """The exit status of the batch script (``ExitCode`` N of ``N:S``), when known."""
    signal: int | None = None
    """The signal that ended it (``S`` of ``N:S``), when not 0."""
    time_limit: str = ""
    restarts: int = 0
    """How often Slurm requeued it (``RestartCnt``)."""

    @property
    def active(self) -> bool:
        """True while the job has not reached a final state."""
        return self.state in ACTIVE


def base_id(job_id: str) -> str:
    """The job id of an array task's array (``1234_7`` -> ``1234``); a job's own id else."""
    return job_id.split("_", 1)[0]


def _reason(text: str) -> str:
    return "" if text in ("None", "(null)") else text


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def parse_squeue(text: str) -> dict[str, JobInfo]:
    """Read ``squeue -r -O`` :data:`SQUEUE_FORMAT` lines (collapsed pending tasks skipped)."""
    jobs = {}
    for line in text.splitlines():
        line = line.strip()
        parts = (line[:-1] if line.endswith("|") else line).split("|", 4)
        if len(parts) == 5 and "[" not in parts[0]:
            job_id, state, restarts, reason, name = parts
            jobs[job_id] = JobInfo(job_id, state, _reason(reason), name, restarts=_int(restarts))
    return jobs


def parse_exit(text: str) -> tuple[int | None, int | None]:
    """``ExitCode`` ``N:S`` as (exit code, signal); a 0 signal is None."""
    code_s, _, sig_s = text.partition(":")
    try:
        code = int(code_s)
        sig = int(sig_s or 0)
    except ValueError:
        return None, None
    return code, (sig or None)


def parse_sacct(text: str) -> dict[str, JobInfo]:
    """Read ``sacct -n -P -X -o`` :data:`SACCT_FIELDS` lines (the name last: it may hold |)."""
    jobs = {}
    for line in text.splitlines():
        parts = line.strip().split("|", 4)
        if len(parts) < 5 or "[" in parts[0]:
            continue
        job_id, state, exit_text, limit, name = parts
        code, sig = parse_exit(exit_text)
        words = state.split()  # "CANCELLED by 1000"
        base = words[0] if words else ""
        jobs[job_id] = JobInfo(job_id, base, " ".join(words[1:]), name, code, sig, limit)
    return jobs


def parse_scontrol(text: str) -> dict[str, JobInfo]:
    """Read ``scontrol -o show job`` lines: one per job, or per task of an array."""
    jobs = {}
    for line in text.splitlines():
        fields = dict(_SCONTROL_FIELD.findall(line))
        if "JobId" not in fields:
            continue
        job_id, task = fields["JobId"], fields.get("ArrayTaskId", "")
        if task:
            if not task.isdigit():  # pending tasks not yet split off: "2-19%5"
                continue
            job_id = f"{fields.get('ArrayJobId', job_id)}_{task}"
        code, sig = parse_exit(fields.get("ExitCode", ""))
        jobs[job_id] = JobInfo(
            job_id, fields.get("JobState", ""), _reason(fields.get("Reason", "")),
            fields.get("JobName", ""), code, sig, fields.get("TimeLimit", ""),
            _int(fields.get("Restarts", "0")),
        )  # fmt: skip
    return jobs
