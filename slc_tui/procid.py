"""Process identity: a pid together with its start time, so that a reused pid never counts.

Imported by every run's entrypoint, so it stays tiny (``os`` only).
"""

from __future__ import annotations

import os

ENGINE_ENV = "SLC_TUI_ENGINE"
"""Environment variable naming the engine of a run (``pid:start``); a run dies with it."""
CORES_ENV = "SLC_TUI_CORES"
"""Environment variable listing the cores a run is pinned to (``0,1``)."""


def process_start_time(pid: int) -> str | None:
    """The start time of ``pid`` from ``/proc`` (None when it is gone or a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    if not fields or fields[0] in ("Z", "X"):
        return None
    return fields[19]


def engine_token(pid: int | None = None) -> str:
    """The value of ``SLC_TUI_ENGINE`` that names process ``pid`` (default: this one)."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{process_start_time(pid) or '0'}"


def token_alive(token: str) -> bool:
    """True while the process a token names runs (the same process, not a reused pid)."""
    pid_s, _, start = token.partition(":")
    try:
        pid = int(pid_s)
    except ValueError:
        return True
    if not os.path.isdir("/proc"):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return process_start_time(pid) == start
