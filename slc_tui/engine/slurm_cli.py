"""Slurm's commands, called and read: sbatch, squeue, sacct, scontrol, scancel, sinfo.

Every call has a timeout and turns a missing command or a refusal into :class:`SlurmError`
with Slurm's own text. Parsing is kept in small pure functions so it is tested without Slurm.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from slc_tui.errors import SlcError

TIMEOUT = 60.0
"""Seconds a Slurm command may take (a busy controller can be slow)."""
ACTIVE = frozenset(
    {
        "PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED",
        "REQUEUE_FED", "REQUEUE_HOLD", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED",
        "RESV_DEL_HOLD", "SPECIAL_EXIT", "POWER_UP_NODE", "UPDATE_DB",
    }
)  # fmt: skip
"""Job states from which a job still moves on by itself."""
_SCONTROL_FIELD = re.compile(r"(?:^|\s)([A-Za-z][\w/:]*)=(\S*)")
_NO_ACCOUNTING = ("accounting storage is disabled", "slurmdbd", "accounting_storage/none")


class SlurmError(SlcError, RuntimeError):
    """A Slurm command is missing, or refused what we asked; the message says which and why."""


@dataclass
class JobInfo:
    """A job as Slurm reports it."""

    job_id: str
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

    @property
    def active(self) -> bool:
        """True while the job has not reached a final state."""
        return self.state in ACTIVE


def run(args: Sequence[str], stdin: str | None = None, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run a Slurm command; SlurmError when it is not installed or does not answer."""
    if shutil.which(args[0]) is None:
        raise SlurmError(
            f'{args[0]} was not found on PATH: run slc-tui with backend = "slurm" on a machine '
            'that can submit Slurm jobs (a login node), or use backend = "local"'
        )
    try:
        return subprocess.run(
            list(args), input=stdin, env=env, capture_output=True, text=True, timeout=TIMEOUT,
            stdin=None if stdin is not None else subprocess.DEVNULL,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise SlurmError(f"{args[0]} did not answer within {TIMEOUT:g} s") from exc


def _text(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
    return " ".join(lines)[-500:] or f"exit status {proc.returncode}"


def submit(args: Sequence[str], script: str, env: dict[str, str]) -> str:
    """Submit a batch job (``sbatch --parsable``, script on stdin); its job id."""
    proc = run(args, stdin=script, env=env)
    job_id = proc.stdout.strip().split(";")[0]
    if proc.returncode != 0 or not job_id:
        raise SlurmError(f"Slurm refused the job: {_text(proc)}")
    return job_id


def parse_squeue(text: str) -> dict[str, JobInfo]:
    """Read ``squeue -o '%i|%T|%r|%j'`` lines."""
    jobs = {}
    for line in text.splitlines():
        parts = line.strip().split("|", 3)
        if len(parts) == 4:
            reason = "" if parts[2] in ("None", "(null)") else parts[2]
            jobs[parts[0]] = JobInfo(parts[0], parts[1], reason, parts[3])
    return jobs


def queue(job_ids: Sequence[str]) -> dict[str, JobInfo]:
    """Queue states of ``job_ids`` in one ``squeue`` call (jobs Slurm forgot are absent)."""
    if not job_ids:
        return {}
    args = ["squeue", "-h", "-t", "all", "-j", ",".join(job_ids), "-o", "%i|%T|%r|%j"]
    proc = run(args)
    if proc.returncode != 0:
        if "invalid job id" in proc.stderr.lower():
            return {}
        raise SlurmError(f"squeue failed: {_text(proc)}")
    return parse_squeue(proc.stdout)


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
    """Read ``sacct -n -P -X -o JobID,State,ExitCode,JobName,Timelimit`` lines."""
    jobs = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 5:
            continue
        job_id, state, exit_text, limit = parts[0], parts[1], parts[2], parts[-1]
        name = "|".join(parts[3:-1])
        code, sig = parse_exit(exit_text)
        words = state.split()  # "CANCELLED by 1000"
        base = words[0] if words else ""
        jobs[job_id] = JobInfo(job_id, base, " ".join(words[1:]), name, code, sig, limit)
    return jobs


def accounting(job_ids: Sequence[str]) -> dict[str, JobInfo] | None:
    """Final states from ``sacct`` in one call; None when the cluster keeps no accounting."""
    if shutil.which("sacct") is None:
        return None
    fields = "JobID,State,ExitCode,JobName,Timelimit"
    proc = run(["sacct", "-n", "-P", "-X", "-j", ",".join(job_ids), "-o", fields])
    text = (proc.stderr + proc.stdout).lower()
    if proc.returncode != 0 or any(s in text for s in _NO_ACCOUNTING):
        return None
    return parse_sacct(proc.stdout)


def parse_scontrol(text: str) -> JobInfo | None:
    """Read one job of ``scontrol -o show job``."""
    fields = dict(_SCONTROL_FIELD.findall(text))
    if "JobId" not in fields:
        return None
    code, sig = parse_exit(fields.get("ExitCode", ""))
    reason = fields.get("Reason", "")
    return JobInfo(
        fields["JobId"], fields.get("JobState", ""), "" if reason == "None" else reason,
        fields.get("JobName", ""), code, sig, fields.get("TimeLimit", ""),
    )  # fmt: skip


def show_job(job_id: str) -> JobInfo | None:
    """``scontrol show job``: a job the controller still holds (MinJobAge after its end)."""
    proc = run(["scontrol", "-o", "show", "job", job_id])
    if proc.returncode != 0:
        if "invalid job id" in proc.stderr.lower():
            return None
        raise SlurmError(f"scontrol failed: {_text(proc)}")
    return parse_scontrol(proc.stdout)


def cancel(job_ids: Sequence[str]) -> None:
    """``scancel`` the jobs (a job already gone is no error)."""
    if job_ids:
        proc = run(["scancel", *job_ids])
        if proc.returncode != 0 and "invalid job id" not in proc.stderr.lower():
            raise SlurmError(f"scancel failed: {_text(proc)}")


def partition_nodes(partition: str | None) -> set[str]:
    """Host names of the nodes jobs may land on (empty when ``sinfo`` cannot say)."""
    args = ["sinfo", "-h", "-N", "-o", "%N"] + (["-p", partition] if partition else [])
    try:
        proc = run(args)
    except SlurmError:
        return set()
    return {n.strip() for n in proc.stdout.split()} if proc.returncode == 0 else set()


def fs_type(path: str) -> str:
    """The file-system type ``path`` lives on, from ``/proc/mounts`` ("" when unknown)."""
    path = os.path.realpath(path)
    best, kind = "", ""
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mount = parts[1].replace("\\040", " ")
                inside = path == mount or path.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(best):
                    best, kind = mount, parts[2]
    except OSError:
        return ""
    return kind
