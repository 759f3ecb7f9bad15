"""What the engine tells the views in its own process (the headless printer, Python callers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from slc_tui.engine.ledger import RunRecord

STARTED, PROGRESS, FINISHED, RETRY, PAUSED, RESUMED, STOPPING, DONE = (
    "started",
    "progress",
    "finished",
    "retry",
    "paused",
    "resumed",
    "stopping",
    "done",
)


@dataclass
class Event:
    """One thing that happened: ``kind`` is one of the constants of this module."""

    kind: str
    run: RunRecord | None = None
    """The run it is about (a copy of its ledger record), if any."""
    text: str = ""
    """Extra words: the reason of a retry, who paused..."""


Listener = Callable[[Event], None]
"""A callable that receives every event."""
