"""One read of a sweep's ledgers, for :meth:`SweepState.apply` (the slow half of a poll:
SQLite and JSON, touching no state of the model, so a worker thread may do it).

A ledger that cannot be read this time (busy, corrupt, gone) leaves its error in the read and
the rest of the read stands; a ledger whose file changed (made again by its engine) is opened
again and read whole. Each grid's lock is probed, so the model can tell a live engine.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slc_tui.engine import journal as J
from slc_tui.engine.claim import lock_state
from slc_tui.engine.faults import is_bug, unreadable
from slc_tui.engine.ledger import Ledger, RunRecord
from slc_tui.engine.paths import journal_path

_journals: dict[Path, tuple[tuple[int, int], dict[str, RunRecord]]] = {}


@dataclass
class LedgerRead:
    """What one :meth:`SweepState.read` found in the ledgers, for :meth:`SweepState.apply`."""

    metas: list[dict[str, Any]]
    """Each ledger's meta values."""
    runs: list[list[RunRecord]]
    """Each ledger's runs changed after the revs it was read from, in plan order."""
    revs: list[int]
    """Each ledger's highest rev seen: where the next read starts."""
    locked: list[bool | None] = field(default_factory=list)
    """Whether an engine holds each grid's lock (None: no lock file)."""
    fresh: list[bool] = field(default_factory=list)
    """Ledgers read whole again (made again by their engine): their runs replace the old."""
    errors: list[Exception | None] = field(default_factory=list)
    """Why a ledger could not be read this time (the rest of the read stands)."""


def read_ledgers(
    ledgers: list[Ledger],
    metas: list[dict[str, Any]],
    since: list[int],
    reopen: Callable[[int], Ledger],
) -> LedgerRead:
    """Read each ledger's meta and its runs changed after ``since[li]`` (``metas``: what was
    read before, kept for a ledger that cannot be read now); ``reopen(li)`` opens ledger
    ``li`` again at its path."""
    read = LedgerRead([], [], [])
    for li, ledger in enumerate(ledgers):
        meta, runs, fresh, error = metas[li], [], False, None
        try:
            if ledger.vanished():  # deleted, or made again by its engine
                ledger, fresh = reopen(li), True
            meta = ledger.meta()
            runs = ledger.runs(since_rev=0 if fresh else since[li])
        except (sqlite3.DatabaseError, OSError) as exc:
            if is_bug(exc):
                raise
            error = unreadable(ledger.path, exc)
        read.metas.append(meta)
        read.runs.append(runs)
        read.revs.append(max([0 if fresh else since[li], *(r.rev for r in runs)]))
        read.locked.append(lock_state(ledger.path))
        read.fresh.append(fresh)
        read.errors.append(error)
    return read


def journal_ends(ledger: Path) -> dict[str, RunRecord]:
    """Each run's last end in the journal beside ``ledger`` (read again only when the file
    changed), for runs a dead engine left running in a ledger that fell behind."""
    path = journal_path(ledger)
    try:
        st = os.stat(path)
    except OSError:
        return {}
    key = (st.st_size, st.st_mtime_ns)
    cached = _journals.get(path)
    if cached is None or cached[0] != key:
        cached = _journals[path] = (key, J.ends(path)[0])
    return cached[1]
