"""A ledger's file: made whole under a temporary name and linked into place, opened without
ever creating one, and moved aside when it cannot be used."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from slc_tui.engine.ledger_fs import journal_mode
from slc_tui.engine.paths import open_private
from slc_tui.engine.schema import upgrade

ENGINE_TIMEOUT = 10.0
"""Seconds the engine waits for a busy ledger while it starts (claim, reconcile)."""
LOOP_TIMEOUT = 0.1
"""Seconds the engine's loop waits for a busy ledger before it goes on and tries later."""
VIEW_TIMEOUT = 3.0
"""Seconds a view waits for a busy ledger before it says so."""


def ident(path: Path) -> tuple[int, int] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def connect(path: Path, timeout: float) -> sqlite3.Connection:
    """A connection to the existing database at ``path`` (never creating one)."""
    uri = path.absolute().as_uri() + "?mode=rw"
    conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None,
                           check_same_thread=False)  # fmt: skip
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def build(path: Path, fill: Callable[[Path], None] | None = None) -> None:
    """Make a new ledger at ``path`` (which must not exist): built under a temporary name,
    0600, filled by ``fill(tmp_path)``, then linked into place, so nobody sees it half made.

    Raises:
        FileExistsError: a file appeared at ``path`` meanwhile (it is left alone).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        with suppress(FileNotFoundError):
            leftover.unlink()
    os.close(open_private(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL))
    try:
        conn = connect(tmp, ENGINE_TIMEOUT)
        conn.execute(f"PRAGMA journal_mode={journal_mode(path)}")
        upgrade(conn)
        conn.close()
        if fill is not None:
            fill(tmp)  # opens and closes its own connection: the WAL ends in the file
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links: no file there, as we hold the lock
            if os.path.lexists(path):
                raise FileExistsError(path) from None
            os.rename(tmp, path)
    finally:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            with suppress(FileNotFoundError):
                leftover.unlink()


def move_aside(path: Path, why: str = "corrupt") -> Path:
    """Rename a ledger that cannot be used (and its ``-wal``/``-shm``) to
    ``NAME.db.corrupt-YYYYmmdd-HHMMSS``; return the new name. Nothing is deleted."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.{why}-{stamp}")
    n = 1
    while os.path.lexists(aside):
        n += 1
        aside = path.with_name(f"{path.name}.{why}-{stamp}.{n}")
    os.rename(path, aside)
    for part in ("-wal", "-shm"):
        with suppress(FileNotFoundError):
            os.rename(f"{path}{part}", f"{aside}{part}")
    return aside
