"""The engine's book of runs: their records, the files of each grid they are written to, and
the listeners told of each change. Every change of a run goes through :meth:`Book.set`.

The records here are the truth; each grid's :class:`~slc_tui.engine.sync.GridFiles` writes
them to its ledger at once when it can, and catches the ledger up when it could not.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import sys
import time
from collections.abc import Iterable
from typing import Any

from slc_tui.engine.events import Event, Listener
from slc_tui.engine.journal import Journal
from slc_tui.engine.ledger import Ledger, RunRecord
from slc_tui.engine.lock import EngineLock
from slc_tui.engine.progress import ProgressTail
from slc_tui.engine.records import Command
from slc_tui.engine.slots import Grant
from slc_tui.engine.sync import GridFiles
from slc_tui.plan import Run
from slc_tui.states import EventKind, RunState

CLOSE_WAIT = 30.0
"""Seconds an ending engine waits for a busy ledger (or a full disk) to take its last
records, when the journal does not hold them either."""


def say(line: str) -> None:
    """A one-line notice of the engine, on its stderr (the terminal, or ``engine.log``)."""
    with contextlib.suppress(OSError, ValueError):
        print(f"slc-tui: {line}", file=sys.stderr, flush=True)


class Book:
    """Records and files of an engine's runs, by run name and by grid name."""

    def __init__(self, listeners: Iterable[Listener] = ()) -> None:
        self.records: dict[str, RunRecord] = {}
        """Every run of the sweep, as last changed."""
        self.files: dict[str, GridFiles] = {}
        """One grid's ledger, journal and lock, by grid name."""
        self.listeners = list(listeners)
        """Told of every event."""
        self.say = say
        """Where the engine's one-line notices go."""

    def add(self, grid: str, ledger: Ledger, journal: Journal, lock: EngineLock) -> None:
        """Keep the files of grid ``grid``, taken by the engine."""
        self.files[grid] = GridFiles(ledger, journal, lock, self._say,
                                     functools.partial(self.of_grid, grid))  # fmt: skip

    def _say(self, line: str) -> None:
        self.say(line)

    @property
    def ledgers(self) -> dict[str, Ledger]:
        """The ledger of each grid."""
        return {grid: files.ledger for grid, files in self.files.items()}

    def set(self, name: str, **values: Any) -> RunRecord:
        """Change fields of a run, here and in its ledger; return the new record."""
        record = dataclasses.replace(self.records[name], **values)
        self.records[name] = record
        self.files[record.grid].set(name, values)
        return record

    def ended(self, name: str) -> None:
        """Keep the attempt of run ``name`` that just ended (journal and attempts)."""
        record = self.records[name]
        self.files[record.grid].end(record)

    def emit(self, kind: EventKind, name: str | None = None, text: str = "") -> None:
        """Tell the listeners (about run ``name``, when given)."""
        event = Event(kind, self.records[name] if name else None, text)
        for listener in self.listeners:
            listener(event)

    def in_state(self, state: RunState) -> list[str]:
        """Names of the runs in ``state``, in no particular order."""
        return [name for name, r in self.records.items() if r.state == state]

    def of_grid(self, grid: str) -> list[RunRecord]:
        """The records of grid ``grid``."""
        return [r for r in self.records.values() if r.grid == grid]

    def set_meta(self, **values: Any) -> None:
        """Store sweep-wide facts in every ledger."""
        for files in self.files.values():
            files.set_meta(values)

    def take_commands(self) -> list[Command]:
        """Every ledger's waiting commands."""
        return [cmd for files in self.files.values() for cmd in files.take_commands()]

    def tend(self) -> None:
        """Once per turn: catch up ledgers that fell behind, make again those deleted."""
        for files in self.files.values():
            files.tend()

    @property
    def halted(self) -> str:
        """Why no new run may start ("" while they may): a ledger that cannot be written."""
        return next((f.broken for f in self.files.values() if f.broken), "")

    def close(self, wait: float = CLOSE_WAIT) -> None:
        """Write what waits, waiting up to ``wait`` seconds for a ledger that is busy or whose
        journal is behind too; then close every file and let go of the locks."""
        deadline = time.monotonic() + wait
        told = False
        for files in self.files.values():
            while not files.write(now=True):
                on_disk = files.journal.flush()
                busy = files.fault and not files.broken
                if (on_disk and not busy) or time.monotonic() > deadline:
                    break
                if not told:
                    told = True
                    self.say(f"waiting up to {wait:g} s for the ledger {files.ledger.path} to "
                             "take the last records")  # fmt: skip
                time.sleep(0.2)
            if files.behind:
                kept = (f"they are in the journal {files.journal.path}, and the next start "
                        "of this grid takes them in" if files.journal.flush() else
                        f"nor the journal ({files.journal.error}): the summary is their only "
                        "record")  # fmt: skip
                self.say(f"could not write the last records into the ledger "
                         f"{files.ledger.path} ({files.fault}); {kept}")  # fmt: skip
            files.close()


@dataclasses.dataclass
class Live:
    """What the engine follows of a run it started (or adopted)."""

    grant: Grant
    """The cores (and devices) of the budget the run holds."""
    tail: ProgressTail
    """Its progress file, read as it grows."""
    deadline: float | None = None
    """When it times out (``time.monotonic()``), if it has a timeout."""

    @classmethod
    def of(cls, run: Run, grant: Grant, spent: float = 0.0) -> Live:
        """A run that just started (or has run ``spent`` seconds already)."""
        timeout = run.options.timeout
        deadline = time.monotonic() + timeout - spent if timeout else None
        return cls(grant, ProgressTail(run.output_dir), deadline)
