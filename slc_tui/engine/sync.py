"""One grid's files as the engine keeps them: its ledger, journal and lock, kept in step with
the engine's records whatever happens to the ledger.

The engine's records (:class:`~slc_tui.engine.book.Book`) are the truth; the ledger is their
copy on disk. A write the ledger refuses waits here, merged with later ones, and goes in one
transaction at the next try:

- busy (another process holds the database): the loop goes on (it reaps, follows and starts
  runs), and the ledger catches up when it is free, tried again after 0.05 s, then twice as
  long each time up to 2 s; one line says so if it lasts over a second;
- broken (a full disk, an I/O error, a read-only or corrupt file): one line says so, no new run
  starts, the running runs go on and their ends go to the journal; writes are tried again
  every few seconds (space may come back);
- deleted or replaced (the inode changed): the ledger is made again at once from the engine's
  records and the journal's attempts, and the lock file too, so ``stop`` and a second start
  still find this engine.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

from slc_tui.engine import journal as J
from slc_tui.engine.faults import is_bug, is_busy
from slc_tui.engine.ledger import Ledger
from slc_tui.engine.ledger_file import ENGINE_TIMEOUT, LOOP_TIMEOUT, build, connect, move_aside
from slc_tui.engine.lock import EngineLock
from slc_tui.engine.paths import private_dir
from slc_tui.engine.records import Command, RunRecord

FIRST_DELAY = 0.05
BUSY_DELAY = 2.0
"""Longest wait between two tries of a busy ledger, in seconds."""
BROKEN_DELAY = 5.0
"""Longest wait between two tries of a broken ledger (a full disk...), in seconds."""
NOTICE_AFTER = 1.0
"""A busy ledger is mentioned once it has refused writes for this many seconds."""
CHECK_EVERY = 0.5
"""Seconds between two looks at whether the ledger file is still there."""
Say = Callable[[str], None]


class GridFiles:
    """The ledger, journal and lock of one grid, and the writes the ledger has yet to take."""

    def __init__(self, ledger: Ledger, journal: J.Journal, lock: EngineLock, say: Say,
                 records: Callable[[], list[RunRecord]]) -> None:  # fmt: skip
        self.ledger = ledger
        self.journal = journal
        self.lock = lock
        self.say = say
        """Where one-line notices go."""
        self._records = records
        self.meta: dict[str, Any] = ledger.meta()
        """Every meta value of the sweep (what a rebuilt ledger gets)."""
        self._meta: dict[str, Any] = {}
        self._changes: dict[str, dict[str, Any]] = {}
        self._ends: dict[tuple[str, int], RunRecord] = {}
        self.fault = ""
        """Why the ledger is behind ("" while it is in step)."""
        self.broken = ""
        """A fault that does not pass by itself; no new run starts while it is set."""
        self._since = 0.0
        self._next = 0.0
        self._delay = FIRST_DELAY
        self._said = False
        self._gone = False  # the ledger was closed, deleted, and is not made again yet
        self._next_check = time.monotonic() + CHECK_EVERY
        ledger.set_timeout(LOOP_TIMEOUT)

    # -- what the engine writes --------------------------------------------------------------
    def set(self, name: str, values: dict[str, Any]) -> None:
        """Change fields of run ``name``."""
        self._changes.setdefault(name, {}).update(values)
        self.write()

    def end(self, record: RunRecord) -> None:
        """Keep an attempt that ended: in the journal (on disk before this returns, if the disk
        takes it) and in the ledger's attempts."""
        self._ends[(record.name, record.attempt)] = record
        if not self.journal.end(record) and not self.broken:
            self._broke(f"cannot write the journal {self.journal.path} ({self.journal.error})")
        self.write()

    def set_meta(self, values: dict[str, Any]) -> None:
        """Store sweep-wide facts."""
        self.meta.update(values)
        self._meta.update(values)
        self.write()

    def take_commands(self) -> list[Command]:
        """The views' commands (none while the ledger cannot be written: they wait there)."""
        if self._gone:
            return []
        try:
            return self.ledger.take_commands()
        except sqlite3.DatabaseError as exc:
            if is_bug(exc):
                raise
            return []

    @property
    def behind(self) -> bool:
        """Whether some write waits."""
        return bool(self._meta or self._changes or self._ends)

    # -- keeping up --------------------------------------------------------------------------
    def write(self, now: bool = False) -> bool:
        """Try the waiting writes (unless a retry is not due yet); True when none waits."""
        if not self.behind:
            return True
        if self._gone or (not now and time.monotonic() < self._next):
            return False
        try:
            self.ledger.write(self._meta, self._changes, list(self._ends.values()))
        except sqlite3.DatabaseError as exc:
            if is_bug(exc):
                raise
            self._failed(exc)
            return False
        self._meta, self._changes, self._ends = {}, {}, {}
        if self._said:
            took = time.monotonic() - self._since
            self.say(f"the ledger {self.ledger.path} is written again ({took:.0f} s behind)")
        self.fault, self._said, self._delay, self._next = "", False, FIRST_DELAY, 0.0
        return True

    def tend(self) -> None:
        """Once per turn of the loop: write what waits when a retry is due, and make the
        ledger again if its file is gone."""
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + CHECK_EVERY
            if not self.lock.intact() and not self.lock.restore() and not self.broken:
                self._broke(f"another engine took {self.lock.path} after it was deleted")
            if not self.journal.intact():
                self.journal.reopen(self._records())
            if self.ledger.vanished():
                self.rebuild("deleted")
                return
        if self.behind:
            self.write()

    def _failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        if not self.fault:
            self._since = now
        self.fault = str(exc)
        if self.ledger.vanished():
            self.rebuild("deleted")
            return
        if is_busy(exc):
            self._delay = min(self._delay * 2, BUSY_DELAY)
            if not self._said and now - self._since >= NOTICE_AFTER:
                self._said = True
                self.say(f"the ledger {self.ledger.path} is locked by another process "
                         f"({exc}); the engine keeps its records and writes them when it is "
                         "free")  # fmt: skip
        else:
            self._delay = min(max(self._delay * 2, 1.0), BROKEN_DELAY)
            if not self.broken:
                self._broke(f"cannot write the ledger {self.ledger.path} ({exc})")
        self._next = now + self._delay

    def _broke(self, why: str) -> None:
        self.broken = why
        self._said = True
        self.say(f"{why}: no new run starts; the running runs go on, and their ends are kept "
                 f"(journal {self.journal.path})")  # fmt: skip

    # -- a ledger made again ----------------------------------------------------------------
    def rebuild(self, why: str) -> None:
        """Make the ledger again at its path from the engine's records (the lock file and
        the journal too, when they went with it)."""
        path = self.ledger.path
        with suppress(Exception):  # a moved file's last connection leaves its WAL alone
            self.ledger.close()
        self._gone = True
        try:
            private_dir(path.parent)
            if not self.lock.restore():
                self._broke(f"another engine took {self.lock.path} after it was deleted")
                return
            self.journal.reopen(self._records())
            if os.path.lexists(path):  # another file stands there now: keep it, aside
                move_aside(path, "replaced")
            for part in ("-wal", "-shm"):  # the deleted file's: they would be read into ours
                with suppress(FileNotFoundError):
                    os.unlink(f"{path}{part}")
            rev = self.ledger._rev
            _, attempts = J.ends(self.journal.path)

            def fill(tmp: Path) -> None:
                ledger = Ledger(tmp, connect(tmp, ENGINE_TIMEOUT))
                ledger._rev = rev
                ledger.set_meta(**self.meta)
                ledger.put(self._records(), [*attempts, *self._ends.values()])
                ledger.close()

            build(path, fill)
            self.ledger = Ledger.create(path)
            self.ledger.set_timeout(LOOP_TIMEOUT)
            self._gone = False
        except Exception as exc:
            if is_bug(exc):
                raise
            if not self.broken:  # tried again at the next look
                self._broke(f"the ledger {path} was {why} and cannot be made again ({exc})")
            return
        self._meta, self._changes, self._ends = {}, {}, {}
        self.fault, self._delay, self._next = "", FIRST_DELAY, 0.0
        self.say(f"the ledger {path} was {why}; made it again from the engine's records")

    def close(self) -> None:
        """Close the ledger and the journal, and let go of the lock."""
        with suppress(Exception):
            if not self._gone:
                self.ledger.close()
        self.journal.close()
        self.lock.release()
