"""Slurm's commands, called: sbatch, squeue, sacct, scontrol, scancel, sinfo.

Every call has a timeout and turns a missing command or a refusal into :class:`SlurmError`
with Slurm's own text. The answers are read by :mod:`slc_tui.engine.slurm_parse`. Jobs are
asked about by their array's id (``1234`` for every task ``1234_N``): one call per poll for
the whole sweep.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

from slc_tui.engine.slurm_parse import (
    SACCT_FIELDS,
    SQUEUE_FORMAT,
    JobInfo,
    base_id,
    parse_sacct,
    parse_scontrol,
    parse_squeue,
)
from slc_tui.errors import SlcError

TIMEOUT = 60.0
"""Seconds a Slurm command may take (a busy controller can be slow)."""
_NO_ACCOUNTING = ("accounting storage is disabled", "slurmdbd", "accounting_storage/none")


class SlurmError(SlcError, RuntimeError):
    """A Slurm command is missing, or refused what we asked; the message says which and why."""


def run(args: Sequence[str], stdin: str | None = None, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run a Slurm command; SlurmError when it is not installed or does not answer."""
    require(args[0])
    try:
        return subprocess.run(
            list(args), input=stdin, env=env, capture_output=True, text=True, timeout=TIMEOUT,
            stdin=None if stdin is not None else subprocess.DEVNULL,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise SlurmError(f"{args[0]} did not answer within {TIMEOUT:g} s") from exc


def require(command: str) -> None:
    """SlurmError saying so when ``command`` is not on PATH."""
    if shutil.which(command) is None:
        raise SlurmError(
            f'{command} was not found on PATH: run slc-tui with backend = "slurm" on a machine '
            'that can submit Slurm jobs (a login node), or use backend = "local"'
        )


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


def _bases(job_ids: Sequence[str]) -> str:
    return ",".join(dict.fromkeys(base_id(j) for j in job_ids))


def queue(job_ids: Sequence[str]) -> dict[str, JobInfo]:
    """Queue states of the jobs (and every task of their arrays) in one ``squeue`` call;
    jobs Slurm forgot are absent."""
    if not job_ids:
        return {}
    args = ["squeue", "-h", "-r", "-t", "all", "-j", _bases(job_ids), "-O", SQUEUE_FORMAT]
    proc = run(args)
    if proc.returncode != 0:
        if "invalid job id" in proc.stderr.lower():
            return {}
        raise SlurmError(f"squeue failed: {_text(proc)}")
    return parse_squeue(proc.stdout)


def accounting(job_ids: Sequence[str]) -> dict[str, JobInfo] | None:
    """Final states from ``sacct`` in one call; None when the cluster keeps no accounting."""
    if shutil.which("sacct") is None:
        return None
    proc = run(["sacct", "-n", "-P", "-X", "-j", _bases(job_ids), "-o", SACCT_FIELDS])
    text = (proc.stderr + proc.stdout).lower()
    if proc.returncode != 0 or any(s in text for s in _NO_ACCOUNTING):
        return None
    return parse_sacct(proc.stdout)


def show_jobs(job_id: str) -> dict[str, JobInfo]:
    """``scontrol show job``: a job, or every task of an array, that the controller still
    holds (for MinJobAge after its end); empty when it holds none."""
    proc = run(["scontrol", "-o", "show", "job", base_id(job_id)])
    if proc.returncode != 0:
        if "invalid job id" in proc.stderr.lower():
            return {}
        raise SlurmError(f"scontrol failed: {_text(proc)}")
    return parse_scontrol(proc.stdout)


def show_job(job_id: str) -> JobInfo | None:
    """One job or array task of :func:`show_jobs`."""
    return show_jobs(job_id).get(job_id)


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
