"""The words of a sweep: run states, engine states, commands, event kinds, resume modes.

Each is a ``str`` enum, so it compares equal to its text and the ledger keeps text columns.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum


class _Word(str, Enum):
    """A ``str`` enum that formats as its value (as ``StrEnum`` does from Python 3.11 on)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class RunState(_Word):
    """Where a run stands, in the order views list them."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    LOST = "lost"
    PRUNED = "pruned"
    """Stopped early by ``[early_stop]``, with its variant's other seeds: no failure."""


STATES: tuple[RunState, ...] = tuple(RunState)
"""Every state of a run, in the order views list them."""
FINISHED = frozenset(
    {RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED, RunState.LOST, RunState.PRUNED}
)
"""States a run does not leave by itself."""
COMPLETE = frozenset({RunState.SUCCEEDED, RunState.PRUNED})
"""Ends that are no failure: the exit status stays 0 and ``--resume`` keeps them."""


def exit_status(states: Iterable[RunState]) -> int:
    """A sweep's exit status from its runs' states (DESIGN.md): 0 when none ended without
    succeeding (or being pruned), else 1. (130, interrupted, is the engine's to say.)"""
    return 1 if set(states) & (FINISHED - COMPLETE) else 0


class EngineStatus(_Word):
    """What an engine wrote of its sweep in the ledger's meta ``status``."""

    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"


class Verb(_Word):
    """What a view may ask an engine to do (the ledger's ``commands.verb``)."""

    STOP = "stop"
    RERUN = "rerun"
    PAUSE = "pause"
    RESUME = "resume"
    STOP_ALL = "stop_all"


class EventKind(_Word):
    """What the engine tells the listeners of its own process."""

    STARTED = "started"
    PROGRESS = "progress"
    FINISHED = "finished"
    RETRY = "retry"
    PAUSED = "paused"
    RESUMED = "resumed"
    STOPPING = "stopping"
    DONE = "done"


class Resume(_Word):
    """Which runs of an earlier sweep of the same grid run again."""

    ALL = "all"
    """Every run (a fresh sweep; earlier output is kept as ``output.N.log``)."""
    FAILED = "failed"
    """Skip runs that succeeded or were pruned (``--resume``)."""
    KEEP = "keep"
    """Change no run's state (an engine revived to obey a view's queued commands)."""

    @classmethod
    def of(cls, resume: bool | Resume) -> Resume:
        """``--resume`` as a flag, or a mode."""
        if isinstance(resume, Resume):
            return resume
        return cls.FAILED if resume else cls.ALL
