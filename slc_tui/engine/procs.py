"""Process trees: snapshot a run's processes and stop all of them, MPI ranks included.

MPICH's hydra puts every rank in a session of its own, so one ``killpg`` does not reach
them: a run is stopped by signalling each process (and process group) of its tree. Each rank
is a child subreaper (``slc_tui.procid``), so a process that detached (``setsid``, a double
fork) stays in the tree while its rank lives; what a rank leaves when it is killed is found by
the run's mark in the environment (:func:`marked`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from contextlib import suppress

import psutil

from slc_tui.procid import reap


def tree(pid: int) -> list[psutil.Process]:
    """The process ``pid`` and all its descendants (empty when it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def marked(env: Mapping[str, str]) -> list[psutil.Process]:
    """The processes (this one aside) whose environment holds every ``KEY=value`` of ``env``:
    those a run started, wherever they moved in the process tree."""
    found = []
    for pid in reap.marked(env):
        try:
            found.append(psutil.Process(pid))
        except psutil.Error:
            continue
    return found


def signal_all(procs: Iterable[psutil.Process], sig: int) -> None:
    """Send ``sig`` to each process and to each process group they lead."""
    procs = list(procs)
    groups = _groups(procs)
    for proc in procs:
        try:
            proc.send_signal(sig)
        except psutil.Error:
            continue
    _signal_groups(groups, sig)


def kill_all(procs: Iterable[psutil.Process]) -> None:
    """SIGKILL each process that still runs, every descendant it has (all stopped first, so
    that none starts another in between: :func:`slc_tui.procid.reap.freeze_and_kill`), and the
    process groups they lead."""
    live = alive(procs)
    groups = _groups(live)
    reap.freeze_and_kill(p.pid for p in live)
    _signal_groups(groups, 9)


def _groups(procs: Iterable[psutil.Process]) -> set[int]:
    groups = set()
    for proc in procs:
        try:
            groups.add(os.getpgid(proc.pid))
        except OSError:
            continue
    return groups - {0, 1, os.getpgid(0)}


def _signal_groups(groups: Iterable[int], sig: int) -> None:
    for pgid in groups:
        with suppress(OSError):  # the group is gone already
            os.killpg(pgid, sig)


def alive(procs: Iterable[psutil.Process]) -> list[psutil.Process]:
    """The processes that still run (zombies count as gone)."""
    out = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(proc)
        except psutil.Error:
            continue
    return out
