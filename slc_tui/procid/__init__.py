"""Process identity (a pid together with its start time, so that a reused pid never counts), and
the end of every process a run started.

Imported by every run's entrypoint, so it stays tiny (``os`` on the start path; ``_ctypes`` for
the one ``prctl`` call).
"""

from __future__ import annotations

import os
import signal
import sys
import time

TYPE_CHECKING = False  # collections.abc costs ~8 ms at every run's start
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

ENGINE_ENV = "SLC_TUI_ENGINE"
"""Environment variable naming the engine of a run (``pid:start``); a run dies with it."""
CORES_ENV = "SLC_TUI_CORES"
"""Environment variable listing the cores a run is pinned to (``0,1``)."""
RUN_ENV = "SLC_TUI_RUN"
"""Environment variable naming a run's attempt (``name:attempt``) in every process it starts."""
PR_SET_CHILD_SUBREAPER = 36
STOP_ROUNDS = 100
"""Most rounds of SIGSTOP in :func:`freeze_and_kill` (a process that forks on and on)."""


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
    reparented to this process rather than to init, so it stays a descendant: the ranks find
    it in :func:`live_descendants`, the engine in its process-tree snapshot. False where the
    platform has no such thing (nothing else changes there).
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


def process_table() -> dict[int, tuple[int, str]]:
    """``{pid: (parent pid, state)}`` of every process in ``/proc`` ({} without ``/proc``)."""
    table = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return {}
    for name in names:
        if name.isdigit():
            fields = _stat(name)
            if len(fields) > 1:
                table[int(name)] = (int(fields[1]), fields[0])
    return table


def live_descendants(
    roots: Iterable[int] | None = None, table: dict[int, tuple[int, str]] | None = None
) -> list[int]:
    """The descendants of the pids ``roots`` (default: this process) that are not zombies."""
    table = process_table() if table is None else table
    children: dict[int, list[int]] = {}
    for child, (parent, _) in table.items():
        children.setdefault(parent, []).append(child)
    found, todo = [], [os.getpid()] if roots is None else list(roots)
    seen = set(todo)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
                if table[child][1] not in ("Z", "X"):
                    found.append(child)
    return found


def marked(env: Mapping[str, str]) -> list[int]:
    """The pids (this one aside) whose environment holds every ``KEY=value`` of ``env``: the
    processes a run started (they inherit its ``RUN_ENV``), wherever they moved in the tree."""
    needles = [f"\0{key}={value}\0".encode() for key, value in env.items()]
    found = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in names:
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                block = b"\0" + f.read()
        except OSError:
            continue
        if all(needle in block for needle in needles):
            found.append(int(name))
    return found


def freeze_and_kill(pids: Iterable[int]) -> set[int]:
    """SIGKILL each of ``pids`` and every descendant they have, this process spared; return
    the pids killed.

    First all are stopped (SIGSTOP), round after round: a round waits until the processes it
    stopped show as stopped, then looks for descendants not yet stopped. A stopped process
    starts no other, so when a round finds none, the whole tree is known; then SIGKILL.
    """
    me = os.getpid()
    frozen: set[int] = set()
    fresh = set(pids) - {me}
    for _ in range(STOP_ROUNDS):
        if not fresh:
            break
        _send(fresh, signal.SIGSTOP)
        frozen |= fresh
        deadline = time.monotonic() + 0.5  # a process in the kernel stops on its way out
        while time.monotonic() < deadline:
            table = process_table()
            if all(table.get(p, (0, "X"))[1] in "TtZX" for p in fresh):
                break
            time.sleep(0.001)
        fresh = set(live_descendants(frozen, table)) - frozen - {me}
    _send(frozen, signal.SIGKILL)
    return frozen


def _has_children() -> bool:
    try:  # one system call; WNOWAIT leaves a zombie child for its own waiter
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return True


def _reap() -> None:
    """Collect every child of this process that has exited."""
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def _send(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            continue


def end_descendants(grace: float) -> None:
    """End every process this one started, however it detached: SIGTERM, SIGKILL (through
    :func:`freeze_and_kill`) to those left after ``grace`` seconds, and reap them.

    Meant for a child subreaper (:func:`become_subreaper`), whose orphaned descendants stay its
    children. Costs one system call when this process has no child.
    """
    if not _has_children():
        return
    _send(live_descendants(), signal.SIGTERM)
    deadline = time.monotonic() + grace
    while live_descendants() and time.monotonic() < deadline:
        _reap()
        time.sleep(0.01)
    killed = freeze_and_kill(live_descendants())
    deadline = time.monotonic() + 5.0
    while _has_children() and time.monotonic() < deadline:
        _reap()
        if not killed.intersection(process_table()):
            return
        time.sleep(0.005)
