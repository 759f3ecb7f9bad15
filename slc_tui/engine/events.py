"""What the engine tells the views in its own process (the headless printer, Python callers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from slc_tui.engine.ledger import RunRecord
from slc_tui.states import EventKind


@dataclass
class Event:
    """One thing that happened."""

    kind: EventKind
    run: RunRecord | None = None
    """The run it is about (a copy of its ledger record), if any."""
    text: str = ""
    """Extra words: the reason of a retry, who paused..."""


Listener = Callable[[Event], None]
"""A callable that receives every event."""
