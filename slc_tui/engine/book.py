"""The engine's book of runs: their records, the ledgers they are written to, and the
listeners told of each change. Every change of a run goes through :meth:`Book.set`, so the
ledger on disk and the engine's records never disagree."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from typing import Any

from slc_tui.engine.events import Event, Listener
from slc_tui.engine.ledger import Ledger, RunRecord
from slc_tui.engine.progress import ProgressTail
from slc_tui.plan import Run
from slc_tui.states import EventKind, RunState


class Book:
    """Records and ledgers of an engine's runs, by run name and by grid name."""

    def __init__(self, listeners: Iterable[Listener] = ()) -> None:
        self.records: dict[str, RunRecord] = {}
        """Every run of the sweep, as last written."""
        self.ledgers: dict[str, Ledger] = {}
        """One ledger per grid."""
        self.listeners = list(listeners)
        """Told of every event."""

    def set(self, name: str, **values: Any) -> RunRecord:
        """Change fields of a run, in its ledger and here; return the new record."""
        record = self.records[name]
        self.ledgers[record.grid].update(name, **values)
        self.records[name] = dataclasses.replace(record, **values)
        return self.records[name]

    def emit(self, kind: EventKind, name: str | None = None, text: str = "") -> None:
        """Tell the listeners (about run ``name``, when given)."""
        event = Event(kind, self.records[name] if name else None, text)
        for listener in self.listeners:
            listener(event)

    def in_state(self, state: RunState) -> list[str]:
        """Names of the runs in ``state``, in no particular order."""
        return [name for name, r in self.records.items() if r.state == state]

    def set_meta(self, **values: Any) -> None:
        """Store sweep-wide facts in every ledger."""
        for ledger in self.ledgers.values():
            ledger.set_meta(**values)

    def close(self) -> None:
        """Close every ledger."""
        for ledger in self.ledgers.values():
            ledger.close()


@dataclasses.dataclass
class Live:
    """What the engine follows of a run it started (or adopted)."""

    cores: list[int]
    """The slots of the budget the run holds."""
    tail: ProgressTail
    """Its progress file, read as it grows."""
    deadline: float | None = None
    """When it times out (``time.monotonic()``), if it has a timeout."""

    @classmethod
    def of(cls, run: Run, cores: list[int], spent: float = 0.0) -> Live:
        """A run that just started (or has run ``spent`` seconds already)."""
        timeout = run.options.timeout
        deadline = time.monotonic() + timeout - spent if timeout else None
        return cls(cores, ProgressTail(run.output_dir), deadline)
