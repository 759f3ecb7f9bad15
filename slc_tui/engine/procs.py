"""Process trees: snapshot a run's processes and stop all of them, MPI ranks included.

MPICH's hydra puts every rank in a session of its own, so one ``killpg`` does not reach
them: a run is stopped by signalling each process (and process group) of its tree.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import psutil


def tree(pid: int) -> list[psutil.Process]:
    """The process ``pid`` and all its descendants (empty when it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def signal_all(procs: Iterable[psutil.Process], sig: int) -> None:
    """Send ``sig`` to each process and to each process group they lead."""
    groups: set[int] = set()
    for proc in procs:
        try:
            groups.add(os.getpgid(proc.pid))
            proc.send_signal(sig)
        except (psutil.Error, OSError):
            continue
    for pgid in groups:
        if pgid in (0, 1, os.getpgid(0)):
            continue
        try:
            os.killpg(pgid, sig)
        except OSError:
            continue


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
