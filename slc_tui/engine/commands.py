"""The commands a view queues in the ledger, as the engine obeys them.

A mixin of :class:`~slc_tui.engine.core.Engine`: each verb is one method here, and the
engine's loop takes the queued commands once per turn.
"""

from __future__ import annotations

import signal
from collections import Counter
from typing import Callable

from slc_tui.engine.book import Book
from slc_tui.engine.ledger import Command, RunRecord
from slc_tui.engine.reasons import signal_name
from slc_tui.engine.reconcile import FRESH
from slc_tui.states import FINISHED, EventKind, RunState, Verb

STOP_ALL = -1
"""The value of ``_interrupt`` when a view asked to stop the sweep (no signal)."""


class Commands:
    """Obeys stop, rerun, pause, resume and stop_all."""

    book: Book
    _tries: Counter[str]
    _tripped: bool
    _paused: bool
    _closing: bool
    _interrupt: int | None

    def _stop(self, name: str, state: RunState, reason: str) -> None:
        raise NotImplementedError  # the engine stops a running run

    def _take_commands(self) -> None:
        for cmd in self.book.take_commands():
            self.command(cmd)

    def command(self, cmd: Command) -> None:
        """Obey one command of a view."""
        record = self.book.records.get(cmd.target or "")
        handlers: dict[Verb, Callable[[RunRecord | None], None]] = {
            Verb.STOP: self._on_stop,
            Verb.RERUN: self._on_rerun,
            Verb.PAUSE: lambda _: self._set_paused(True),
            Verb.RESUME: lambda _: self._set_paused(False),
            Verb.STOP_ALL: lambda _: self._on_stop_all(),
        }
        handlers[cmd.verb](record)

    def request_stop(self, sig: int = signal.SIGINT) -> None:
        """Stop the sweep at the next turn of the loop (safe from a signal handler)."""
        self._interrupt = sig

    def _on_stop(self, record: RunRecord | None) -> None:
        if record is None:
            return
        if record.state == RunState.RUNNING:
            self._stop(record.name, RunState.CANCELLED, "stopped by the user")
        elif record.state == RunState.PENDING:
            self.book.set(record.name, state=RunState.CANCELLED, reason="stopped by the user")
            self.book.emit(EventKind.FINISHED, record.name)

    def _on_rerun(self, record: RunRecord | None) -> None:
        if record is None or record.state not in FINISHED:
            return
        self.book.set(record.name, state=RunState.PENDING, **FRESH)
        self._tries[record.name] = 0
        self._tripped = False

    def _set_paused(self, paused: bool) -> None:
        self._paused = paused
        self.book.set_meta(paused=paused)
        self.book.emit(EventKind.PAUSED if paused else EventKind.RESUMED)

    def _on_stop_all(self) -> None:
        if bool(self.book.in_state(RunState.RUNNING)) or any(
            r.state == RunState.PENDING for r in self.book.records.values()
        ):
            self._interrupt = self._interrupt or STOP_ALL
        self._closing = True  # a lingering engine with nothing to do just ends


def stop_reason(sig: int) -> str:
    """Why runs were cancelled: ``interrupted (SIGTERM)``, or a view's stop command."""
    if sig == STOP_ALL:
        return "stopped by the user"
    return f"interrupted ({signal_name(sig)})"
