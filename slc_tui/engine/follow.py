"""What the engine follows of its running runs between their start and end: timeouts,
progress files and the cluster's queue states. A mixin of :class:`~slc_tui.engine.core.Engine`.
"""

from __future__ import annotations

import time

from slc_tui.engine.book import Book, Live
from slc_tui.engine.executor import Executor
from slc_tui.plan import Run
from slc_tui.states import EventKind, RunState


class Follow:
    """Timeouts, progress and queue states of the running runs."""

    book: Book
    executor: Executor
    live: dict[str, Live]
    runs: dict[str, Run]
    _next_progress: float

    def _stop(self, name: str, state: RunState, reason: str) -> None:
        raise NotImplementedError  # the engine stops a running run

    def _check_timeouts(self) -> None:
        now = time.monotonic()
        for name, live in self.live.items():
            if live.deadline is not None and now >= live.deadline:
                live.deadline = None
                limit = self.runs[name].options.timeout
                self._stop(name, RunState.FAILED, f"timed out after {limit:g} s")

    def _take_queue_states(self) -> None:
        for name, word in self.executor.take_queue_states().items():
            record = self.book.records.get(name)
            if record is not None and record.queue_state != word:
                self.book.set(name, queue_state=word)

    def _poll_progress(self, every: float) -> None:
        now = time.monotonic()
        if now < self._next_progress:
            return
        self._next_progress = now + every
        for name in list(self.live):
            self._read_progress(name)

    def _read_progress(self, name: str) -> None:
        live = self.live.get(name)
        latest = live.tail.latest() if live else None
        if latest is not None:
            self.book.set(name, epoch=latest[0], metrics=latest[1])
            self.book.emit(EventKind.PROGRESS, name)
