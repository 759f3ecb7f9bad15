"""What went wrong with a ledger, in the words of SQLite's result codes.

Busy: another process holds the database (``BEGIN EXCLUSIVE``, a long transaction): it passes,
so the engine waits it out. Broken: the disk is full, an I/O error, a read-only file, a
corrupt file: the engine says so once and starts no new run. A view gets one line.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from slc_tui.errors import InputError, SweepError

SQLITE_BUSY, SQLITE_LOCKED = 5, 6
SQLITE_CORRUPT, SQLITE_NOTADB = 11, 26
_BUSY_WORDS = ("database is locked", "database is busy", "database table is locked")
_CORRUPT_WORDS = ("file is not a database", "malformed", "no such table", "no such column")


class LedgerUnreadable(InputError):
    """A view found no readable ledger: corrupt, not a ledger, locked or gone."""


class LedgerLocked(SweepError):
    """Another process holds the ledger longer than one can wait."""


def _code(exc: BaseException) -> int:
    return int(getattr(exc, "sqlite_errorcode", -1)) & 0xFF


def is_bug(exc: BaseException) -> bool:
    """An error of slc-tui's own use of SQLite (to raise, never to wait out)."""
    return isinstance(exc, (sqlite3.ProgrammingError, sqlite3.InterfaceError,
                            sqlite3.IntegrityError))  # fmt: skip


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` says another connection holds the database for now."""
    if _code(exc) in (SQLITE_BUSY, SQLITE_LOCKED):
        return True
    return any(w in str(exc) for w in _BUSY_WORDS)


def is_corrupt(exc: BaseException) -> bool:
    """Whether ``exc`` says the file is not (or no longer) a readable ledger."""
    if _code(exc) in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return True
    return any(w in str(exc) for w in _CORRUPT_WORDS)


def unreadable(path: Path, exc: BaseException, grid_file: str = "") -> LedgerUnreadable:
    """The one line a view gives for a ledger it cannot read."""
    if is_busy(exc):
        return LedgerUnreadable(
            f"{path}: the ledger is locked by another process ({exc})",
            cli="try again when that process lets go of it",
            python="try again when that process lets go of it",
        )
    if is_corrupt(exc):
        target = grid_file or "GRID.toml"
        return LedgerUnreadable(
            f"{path} is not a readable slc-tui ledger ({exc})",
            cli=f"'slc-tui {target} --resume' moves it aside and rebuilds it from the journal "
            "beside it, without running again what succeeded",
            python="run the sweep again with resume=True: it moves the file aside and rebuilds "
            "the ledger from the journal beside it",
        )
    return LedgerUnreadable(f"{path}: cannot read the ledger ({exc})")
