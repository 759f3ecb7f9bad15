"""Process identity (a pid together with its start time, so that a reused pid never counts),
and the child subreaper that keeps every process a run starts within its reach.

Imported by every run's entrypoint, so it stays tiny (``os`` on the start path; ``_ctypes`` for
the one ``prctl`` call). Finding and ending a run's processes is :mod:`slc_tui.procid.reap`,
imported only when there is something to end.
"""

from __future__ import annotations

import os
import sys

ENGINE_ENV = "SLC_TUI_ENGINE"
"""Environment variable naming the engine of a run (``pid:start``); a run dies with it."""
CORES_ENV = "SLC_TUI_CORES"
"""Environment variable listing the cores a run is pinned to (``0,1``)."""
RUN_ENV = "SLC_TUI_RUN"
"""Environment variable naming a run's attempt (``name:attempt``) in every process it starts."""
LOG_ENV = "SLC_TUI_LOG"
"""Environment variable naming where a run's log is written until its folder exists (beside
the folder: the run's logger makes the folder, as it would without slc-tui)."""
LOG_TO_ENV = "SLC_TUI_LOG_TO"
"""Environment variable naming the run's ``output.log`` in its folder, where rank 0 moves the
log (:data:`LOG_ENV`) once the folder exists, and at the latest when the thunk ends."""
PR_SET_CHILD_SUBREAPER = 36


def _stat(pid: int | str) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name (state first; [] when gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return []
    return stat[stat.rfind(")") + 2 :].split()


def process_start_time(pid: int) -> str | None:
    """The start time of ``pid`` from ``/proc`` (None when it is gone or a zombie)."""
    fields = _stat(pid)
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


def become_subreaper() -> bool:
    """Make this process the parent of its orphaned descendants (Linux's child subreaper).

    A process whose parent dies (the second fork of a daemon, after ``setsid``) is then
    reparented to this process rather than to init, so it stays a descendant: the rank finds
    it (:mod:`slc_tui.procid.reap`), the engine in its snapshot of the run's tree. False where
    the platform has no such thing (nothing else changes there).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        return _prctl(PR_SET_CHILD_SUBREAPER, 1) == 0
    except Exception:  # no prctl in this libc, no ctypes in this Python
        return False


def _prctl(option: int, arg: int) -> int:
    try:  # _ctypes itself: the ctypes package costs every run ~3 ms more to import
        import _ctypes

        class _Int(_ctypes._SimpleCData):  # type: ignore[type-arg]
            _type_ = "i"

        class _Prctl(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL
            _restype_ = _Int

        libc = _ctypes.dlopen(None, os.RTLD_NOW)  # type: ignore[arg-type]  # None: this process
        return int(_Prctl(_ctypes.dlsym(libc, "prctl"))(option, arg, 0, 0, 0))
    except (ImportError, AttributeError, OSError, TypeError):
        import ctypes

        return int(ctypes.CDLL(None).prctl(option, arg, 0, 0, 0))


def has_children() -> bool:
    """Whether this process has a child, running or a zombie (one system call: ``waitid``
    with ``WNOWAIT`` leaves a zombie child for its own waiter). Under a child subreaper,
    False means that nothing it started still runs."""
    try:
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return True
