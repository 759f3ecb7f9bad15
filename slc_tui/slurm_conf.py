"""The ``[slurm]`` table of a grid file: validated options, and the job each run becomes.

Kept free of subprocess calls: :func:`validate_slurm_table` is what the grid loader calls;
:mod:`slc_tui.slurm_job` turns runs into the ``sbatch`` command line and the batch script.
"""

from __future__ import annotations

import re
from typing import Any

from slc_tui.errors import InputError

DEFAULT_POLL_INTERVAL = 5.0
"""Seconds between two looks at the queue (one ``squeue`` call for all jobs of the sweep)."""
MIN_POLL_INTERVAL = 1.0
"""The gentlest floor we allow: a controller serves many users."""
DEFAULT_MAX_POLL_INTERVAL = 60.0
"""Seconds between two looks at most, while nothing changes (the interval grows to it)."""
DEFAULT_MAX_REQUEUES = 5
"""Requeues (preemption, node failure) of one run before it counts as failed."""
LAUNCHERS = ("mpiexec", "srun")
"""How an MPI run starts its ranks inside its allocation."""

_TIME = re.compile(r"^(\d+-\d{1,2}(:\d{1,2}){0,2}|\d+(:\d{1,2}){0,2})$")
_MEM = re.compile(r"^\d+[KMGT]?$", re.IGNORECASE)
_NAME = re.compile(r"^[\w.@+-]+$")
_SIGNAL = re.compile(r"^(?:([RB]{1,2}):)?(?:SIG)?([A-Z][A-Z0-9]*|\d+)(?:@(\d+))?$")
_STRINGS = ("partition", "account", "qos")
GPU_REQUESTS = ("gres", "gpus", "gpus-per-task")
"""How a run's ``gpus_per_run`` is asked of Slurm: ``--gres=gpu:N``, ``--gpus=N``,
``--gpus-per-task=N/ranks``."""
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
    "--array": "[slurm] array",
    "-a": "[slurm] array",
    "--requeue": "[slurm] requeue",
    "--no-requeue": "[slurm] requeue",
    "--signal": "[slurm] signal",
}
KEYS = (
    "partition", "time", "mem", "mem_per_cpu", "account", "qos", "nodes", "cpus_per_task",
    "extra_args", "max_jobs", "poll_interval", "max_poll_interval", "launcher", "srun_mpi",
    "array", "requeue", "signal", "max_requeues", "gpu_request",
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


def _seconds(key: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (value >= MIN_POLL_INTERVAL)
    ):
        raise SlurmConfigError(
            f"[slurm] {key} must be a number of seconds >= {MIN_POLL_INTERVAL:g}, not {value!r}"
        )
    return float(value)


def _signal(value: Any) -> str:
    """``"USR1@120"`` -> ``"B:USR1@120"`` (the batch step is the run: see docs/slurm.md)."""
    match = _SIGNAL.match(value.strip().upper()) if isinstance(value, str) else None
    if match is None:
        raise SlurmConfigError(
            f"[slurm] signal must be a signal and the seconds before the time limit, such as "
            f'"USR1@120", not {value!r}'
        )
    where, sig, secs = match.groups()
    return f"{where or 'B'}:{sig}" + (f"@{secs}" if secs else "")


def signal_name(spec: str) -> str:
    """The signal of a normalized ``signal`` value: ``"B:USR1@120"`` -> ``"USR1"``."""
    return spec.split(":", 1)[-1].split("@", 1)[0]


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
        "launcher": "mpiexec", "srun_mpi": "pmi2", "array": True, "requeue": None,
        "signal": None, "max_requeues": DEFAULT_MAX_REQUEUES,
        "max_poll_interval": DEFAULT_MAX_POLL_INTERVAL,
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
        elif key in ("poll_interval", "max_poll_interval"):
            out[key] = _seconds(key, value)
        elif key in ("array", "requeue"):
            if not isinstance(value, bool):
                raise SlurmConfigError(f"[slurm] {key} must be true or false, not {value!r}")
            out[key] = value
        elif key == "signal":
            out[key] = _signal(value)
        elif key == "max_requeues":
            out[key] = _int(key, value, low=0)
        elif key == "launcher":
            if value not in LAUNCHERS:
                raise SlurmConfigError(
                    f"[slurm] launcher must be one of {', '.join(LAUNCHERS)}, not {value!r}"
                )
            out[key] = value
        elif key == "gpu_request":
            if value not in GPU_REQUESTS:
                raise SlurmConfigError(
                    f"[slurm] gpu_request must be one of {', '.join(GPU_REQUESTS)}, not {value!r}"
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
    out["max_poll_interval"] = max(out["max_poll_interval"], out["poll_interval"])
    return out
