"""The ``[slurm]`` table of a grid file: validated options, and the job each run becomes.

Kept free of subprocess calls: :func:`validate_slurm_table` is what the grid loader calls, and
:func:`sbatch_args` / :func:`job_script` turn a run into the ``sbatch`` command line and the
batch script fed to it on stdin.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from typing import Any

from slc_tui.errors import InputError

DEFAULT_POLL_INTERVAL = 5.0
"""Seconds between two looks at the queue (one ``squeue`` call for all jobs of the sweep)."""
MIN_POLL_INTERVAL = 1.0
"""The gentlest floor we allow: a controller serves many users."""
LAUNCHERS = ("mpiexec", "srun")
"""How an MPI run starts its ranks inside its allocation."""

_TIME = re.compile(r"^(\d+-\d{1,2}(:\d{1,2}){0,2}|\d+(:\d{1,2}){0,2})$")
_MEM = re.compile(r"^\d+[KMGT]?$", re.IGNORECASE)
_NAME = re.compile(r"^[\w.@+-]+$")
_STRINGS = ("partition", "account", "qos")
_OWN_FLAGS = {
    "--output": "the run's output.log",
    "-o": "the run's output.log",
    "--error": "the run's output.log",
    "-e": "the run's output.log",
    "--job-name": "the run's name",
    "-J": "the run's name",
    "--ntasks": "num_cpu",
    "-n": "num_cpu",
    "--chdir": "the working directory of slc-tui",
    "-D": "the working directory of slc-tui",
    "--parsable": "slc-tui reading the job id",
    "--wrap": "the run's command",
    "--array": "one job per run",
    "-a": "one job per run",
}
KEYS = (
    "partition", "time", "mem", "mem_per_cpu", "account", "qos", "nodes", "cpus_per_task",
    "extra_args", "max_jobs", "poll_interval", "launcher", "srun_mpi",
)  # fmt: skip
"""Every key the ``[slurm]`` table may hold."""


class SlurmConfigError(InputError, ValueError):
    """A ``[slurm]`` table that cannot be used; the message names the key."""


def _int(key: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise SlurmConfigError(f"[slurm] {key} must be an integer >= {low}, not {value!r}")
    return value


def _time(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    text = str(value).strip() if isinstance(value, str) else ""
    if text.lower() in ("unlimited", "infinite") or (text and _TIME.match(text)):
        return text
    raise SlurmConfigError(
        f'[slurm] time must be a Slurm time limit such as 30 (minutes), "2:00:00" or '
        f'"1-12:00:00", not {value!r}'
    )


def _mem(key: str, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and _MEM.match(value.strip()):
        return value.strip().upper()
    raise SlurmConfigError(
        f'[slurm] {key} must be a size such as 4000 (MB), "500M" or "16G", not {value!r}'
    )


def _extra_args(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise SlurmConfigError(
            f'[slurm] extra_args must be a list of strings such as ["--gres=gpu:1"], not {value!r}'
        )
    for arg in value:
        flag = arg.split("=", 1)[0]
        if flag not in _OWN_FLAGS and not arg.startswith("--"):
            flag = arg[:2]
        if flag in _OWN_FLAGS:
            raise SlurmConfigError(
                f"[slurm] extra_args: {arg!r} is set by slc-tui itself ({_OWN_FLAGS[flag]}); "
                "remove it"
            )
    return list(value)


def validate_slurm_table(table: dict[str, Any]) -> dict[str, Any]:
    """Check a grid file's ``[slurm]`` table; return it normalized, with defaults filled in.

    Raises:
        SlurmConfigError: an unknown key or a value of the wrong kind, named in the message.
    """
    if not isinstance(table, dict):
        raise SlurmConfigError(f"[slurm] must be a table, not {table!r}")
    unknown = [k for k in table if k not in KEYS]
    if unknown:
        raise SlurmConfigError(
            f"[slurm] has an unknown key {unknown[0]!r}; known keys: {', '.join(KEYS)}"
        )
    out: dict[str, Any] = {
        "extra_args": [], "max_jobs": None, "poll_interval": DEFAULT_POLL_INTERVAL,
        "launcher": "mpiexec", "srun_mpi": "pmi2",
    }  # fmt: skip
    for key, value in table.items():
        if value is None:  # TOML has no null: a table normalized before, a default kept
            continue
        if key in _STRINGS:
            if not isinstance(value, str) or not _NAME.match(value):
                raise SlurmConfigError(f'[slurm] {key} must be a name such as "gpu", not {value!r}')
            out[key] = value
        elif key == "time":
            out[key] = _time(value)
        elif key in ("mem", "mem_per_cpu"):
            out[key] = _mem(key, value)
        elif key in ("nodes", "cpus_per_task", "max_jobs"):
            out[key] = _int(key, value)
        elif key == "extra_args":
            out[key] = _extra_args(value)
        elif key == "poll_interval":
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not (value >= MIN_POLL_INTERVAL)
            ):
                raise SlurmConfigError(
                    f"[slurm] poll_interval must be a number of seconds >= "
                    f"{MIN_POLL_INTERVAL:g}, not {value!r}"
                )
            out[key] = float(value)
        elif key == "launcher":
            if value not in LAUNCHERS:
                raise SlurmConfigError(
                    f"[slurm] launcher must be one of {', '.join(LAUNCHERS)}, not {value!r}"
                )
            out[key] = value
        elif key == "srun_mpi":
            if not isinstance(value, str) or not _NAME.match(value):
                raise SlurmConfigError(
                    f'[slurm] srun_mpi must be a name such as "pmi2", not {value!r}'
                )
            out[key] = value
    if "mem" in out and "mem_per_cpu" in out:
        raise SlurmConfigError("[slurm] mem and mem_per_cpu exclude each other; keep one")
    return out


def sbatch_args(conf: dict[str, Any], *, name: str, ntasks: int, log: str, chdir: str) -> list[str]:
    """The ``sbatch`` command line of one run (its script comes on stdin)."""
    args = [
        "sbatch", "--parsable", f"--job-name={name}", f"--ntasks={ntasks}",
        f"--output={log}", "--open-mode=append", f"--chdir={chdir}",
    ]  # fmt: skip
    flags = {
        "partition": "--partition", "time": "--time", "mem": "--mem",
        "mem_per_cpu": "--mem-per-cpu", "account": "--account", "qos": "--qos",
        "nodes": "--nodes", "cpus_per_task": "--cpus-per-task",
    }  # fmt: skip
    args += [f"{flag}={conf[key]}" for key, flag in flags.items() if conf.get(key) is not None]
    return args + list(conf.get("extra_args") or [])


def job_script(argv: Sequence[str], name: str, attempt: int, unset: Sequence[str] = ()) -> str:
    """The batch script: drop the local-only variables, then ``exec`` the run's command."""
    lines = ["#!/bin/sh", f"# slc-tui run {name}, attempt {attempt}"]
    if unset:
        lines.append("unset " + " ".join(unset))
    lines.append("exec " + shlex.join(argv))
    return "\n".join(lines) + "\n"


def srun_command(conf: dict[str, Any], argv: Sequence[str]) -> list[str]:
    """``srun`` starting the ranks of an MPI run (``launcher = "srun"``)."""
    return ["srun", f"--mpi={conf.get('srun_mpi') or 'pmi2'}", "--kill-on-bad-exit=1", *argv]
