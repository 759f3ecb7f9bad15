"""The last word on a sweep's options and data directories, before anything runs: the
checks every way a sweep starts goes through (Python callers' options included)."""

from __future__ import annotations

import math
import os
import stat
from typing import Any

from slc_tui.errors import InputError
from slc_tui.options import BACKENDS, ORDERS, RunOptions


def check_options(options: RunOptions) -> None:
    """Raise InputError for run options no sweep can use (Python callers' options too).

    The command line and grid files check their own spelling first; this is the last word,
    so that ``timeout=float("nan")`` (which never fires) or ``retries=-1`` never reach a run.
    """

    def bad(key: str, value: Any, want: str) -> InputError:
        return InputError(f"{key} {value!r} is not allowed; give {want}")

    def whole(value: Any, least: int) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= least

    if options.max_cpus != "auto" and not whole(options.max_cpus, 1):
        raise bad("max_cpus", options.max_cpus, "a whole number >= 1 or 'auto'")
    if not whole(options.retries, 0):
        raise bad("retries", options.retries, "a whole number >= 0")
    timeout = options.timeout
    number = isinstance(timeout, (int, float)) and not isinstance(timeout, bool)
    if not number or not math.isfinite(timeout) or timeout < 0:
        raise bad("timeout", timeout, "a finite number of seconds >= 0 (0: no limit)")
    if options.backend not in BACKENDS:
        raise bad("backend", options.backend, " or ".join(map(repr, BACKENDS)))
    if options.order not in ORDERS:
        raise bad("order", options.order, " or ".join(map(repr, ORDERS)))
    for key in ("fail_fast", "oversubscribe"):
        if not isinstance(getattr(options, key), bool):
            raise bad(key, getattr(options, key), "True or False")
    names = options.preload if isinstance(options.preload, (tuple, list)) else [None]
    if not all(isinstance(m, str) and all(p.isidentifier() for p in m.split(".")) for m in names):
        raise bad("preload", options.preload, "a list of module names")
    if options.mpiexec is not None and (not isinstance(options.mpiexec, str) or
                                        "\0" in options.mpiexec):  # fmt: skip
        raise bad("mpiexec", options.mpiexec, "the path of an mpiexec")


def data_dir_problem(path: str) -> str | None:
    """Why no run could write into the data directory ``path``, or None: a part of it is a
    file, or the nearest folder of it that exists is not writable. Nothing is created."""
    probe = path
    while True:
        try:
            mode = os.stat(probe).st_mode
        except (FileNotFoundError, NotADirectoryError):
            parent = os.path.dirname(probe)
            if parent == probe:
                return None
            probe = parent
            continue
        except OSError as exc:
            return f"cannot be used: {probe}: {exc.strerror}"
        if not stat.S_ISDIR(mode):
            return f"cannot be created: {probe} is a file, not a folder"
        if not os.access(probe, os.W_OK | os.X_OK):
            return (
                "is not writable"
                if probe == path
                else f"cannot be created: {probe} is not writable"
            )
        return None
