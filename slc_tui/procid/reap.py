"""Find and end the processes of a run, however they detached: by descent (``/proc``) and by
the run's mark in their environment.

Off a run's start path: the entrypoint imports it only when it has something to end, the
engine (``slc_tui.engine.procs``) when it stops or ends a run.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
import time
import zlib
from collections.abc import Iterable, Mapping

from slc_tui.procid import ENGINE_ENV, RUN_ENV, has_children

STOP_ROUNDS = 100
"""Most rounds of SIGSTOP in :func:`freeze_and_kill` (a process that forks on and on)."""
_held: list[socket.socket] = []
"""The lock of :func:`end_run`, held until this process dies."""


def process_table() -> dict[int, tuple[int, str]]:
    """``{pid: (parent pid, state)}`` of every process in ``/proc`` ({} without ``/proc``)."""
    table = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return {}
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split(maxsplit=2)
        if len(fields) > 1:
            table[int(name)] = (int(fields[1]), fields[0].decode())
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

    Meant for a child subreaper (:func:`slc_tui.procid.become_subreaper`), whose orphaned
    descendants stay its children. With a grace, multiprocessing's helpers (its fork server
    and resource tracker) are first stopped their own way: they ignore SIGTERM and leave only
    when their pipe closes, which would otherwise cost the whole grace.
    """
    if grace > 0:
        _stop_multiprocessing_helpers()
    if not has_children():
        return
    _send(live_descendants(), signal.SIGTERM)
    deadline = time.monotonic() + grace
    while live_descendants() and time.monotonic() < deadline:
        _reap()
        time.sleep(0.01)
    killed = freeze_and_kill(live_descendants())
    deadline = time.monotonic() + 5.0
    while has_children() and time.monotonic() < deadline:
        _reap()
        if not killed.intersection(process_table()):
            return
        time.sleep(0.005)


def _stop_multiprocessing_helpers() -> None:
    for module, attr in (("forkserver", "_forkserver"), ("resource_tracker", "_resource_tracker")):
        helper = getattr(sys.modules.get(f"multiprocessing.{module}"), attr, None)
        stop = getattr(helper, "_stop", None)  # CPython's own (its tests use it)
        if stop is None:
            continue
        try:
            stop()
        except Exception:  # another Python's internals: SIGTERM and SIGKILL will do
            continue


def end_run(token: str, run: str | None) -> None:
    """The engine ``token`` is gone: SIGKILL every process of the run ``run`` (the value of
    ``RUN_ENV``) but this one, at once.

    Every process of the run carries its mark in the environment (the other ranks, mpiexec,
    what they started; what a rank started is also found as its descendant). A rank that
    ended only its own processes and died would make mpiexec SIGKILL the other ranks before
    they ended theirs; so the first rank does it for all, under a lock that one process holds
    at a time (freed when it dies), and the others wait for their end: two ranks never stop
    each other. Without ``run`` (or ``/proc``), only this process's descendants.
    """
    if not run or not os.path.isdir("/proc"):
        freeze_and_kill(live_descendants())
        return
    lock = socket.socket(socket.AF_UNIX)
    _held.append(lock)
    while True:
        try:  # an abstract socket name (Linux): no file to leave behind
            lock.bind(f"\0slc-tui-{zlib.crc32(f'{token} {run}'.encode()):08x}")
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                time.sleep(0.05)
                continue
        break
    freeze_and_kill(live_descendants() + marked({ENGINE_ENV: token, RUN_ENV: run}))
