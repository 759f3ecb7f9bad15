"""The read model of a sweep: every run of every ledger, read incrementally, for every view.

Pure Python (no Textual). :meth:`SweepState.poll` reads only the runs whose ``rev`` moved,
so 10,000 runs stay cheap. Liveness, lost runs, counts, the exit status, the elapsed time and
the ETA are decided here once, so ``status``, the headless summary and the dashboard agree.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from slc_tui.durations import Durations
from slc_tui.engine.claim import engine_alive
from slc_tui.engine.forecast import forecast
from slc_tui.engine.ledger import Ledger, RunRecord
from slc_tui.states import EngineStatus, RunState, Verb, exit_status
from slc_tui.sweep.fmt import counts_line
from slc_tui.sweep.reads import LedgerRead, journal_ends, read_ledgers

__all__ = ["LedgerRead", "RunKey", "SweepState", "VariantSummary"]

ETA_EVERY = 5.0
"""Seconds a played ETA holds (counting down) while no run changes."""

RunKey = tuple[int, str]
"""A run's identity in the dashboard: (ledger index, run name)."""


@dataclass
class VariantSummary:
    """Counts over a variant's (or a grid's) runs."""

    total: int = 0
    states: Counter[RunState] = field(default_factory=Counter)

    @property
    def done(self) -> int:
        """Runs that succeeded."""
        return self.states[RunState.SUCCEEDED]


class SweepState:
    """All runs of one or more ledgers, kept up to date by :meth:`poll`."""

    def __init__(self, ledgers: list[Ledger], clock: Callable[[], float] = time.time) -> None:
        self.ledgers = ledgers
        """One ledger per grid, in the order given."""
        self.clock = clock
        """Where "now" comes from (tests freeze it)."""
        self.runs: dict[RunKey, RunRecord] = {}
        """Every run, by key."""
        self.variants: dict[tuple[int, str], list[RunKey]] = {}
        """Each variant's runs, in plan order, by (ledger index, variant name)."""
        self.metas: list[dict[str, Any]] = [{} for _ in ledgers]
        """Each ledger's meta values."""
        self.locked: list[bool | None] = [None] * len(ledgers)
        """Whether an engine holds each grid's lock (None: no lock file), as last read."""
        self._revs = [0] * len(ledgers)
        self._known: Durations | None = None
        self._eta: tuple[Any, float, float | None] | None = None

    @classmethod
    def open(cls, paths: list[Path], clock: Callable[[], float] = time.time) -> SweepState:
        """Open the ledgers at ``paths`` (FileNotFoundError when one is missing)."""
        return cls([Ledger.open(p) for p in paths], clock)

    def grid_name(self, li: int) -> str:
        """The grid name of ledger ``li``."""
        return str(self.metas[li].get("grid_name") or self.ledgers[li].path.stem)

    def poll(self) -> set[RunKey]:
        """Read what changed since the last poll; return the keys of changed runs.

        The runs a dead local engine left running are shown lost, as its next engine will
        record them (a cluster job outlives its engine: those stay running).

        Raises:
            LedgerUnreadable: a ledger is corrupt, locked for long, or gone (one line).
        """
        read = self.read(self.revs())
        error = next((e for e in read.errors if e is not None), None)
        if error is not None:
            raise error
        return self.apply(read)

    def _mark_lost(self, li: int) -> set[RunKey]:
        """The runs a dead engine left running: as its journal ended them (a ledger that fell
        behind), else lost."""
        lost = {k for k, r in self.runs.items() if k[0] == li and r.state == RunState.RUNNING}
        ended = journal_ends(self.ledgers[li].path) if lost else {}
        for key in lost:
            run = self.runs[key]
            end = ended.get(run.name)
            if end is not None and end.attempt == run.attempt:
                self.runs[key] = replace(end, rev=run.rev)
            else:
                self.runs[key] = replace(run, state=RunState.LOST, reason="its engine ended")
        return lost

    def revs(self) -> list[int]:
        """Each ledger's highest rev taken in so far (where a :meth:`read` starts)."""
        return list(self._revs)

    def read(self, since: list[int]) -> LedgerRead:
        """Read each ledger's meta and its runs changed after ``since[li]``; change nothing.

        The slow half of :meth:`poll` (SQLite and JSON), which touches no state of the model:
        a worker thread may read while the views read the model on their own thread, and hand
        the result to :meth:`apply` there.
        """
        return read_ledgers(self.ledgers, self.metas, since, self._reopen)

    def _reopen(self, li: int) -> Ledger:
        """Open ledger ``li`` again at its path (FileNotFoundError while it is gone)."""
        ledger = Ledger.open(self.ledgers[li].path)
        old, self.ledgers[li] = self.ledgers[li], ledger
        old.close()
        return ledger

    def apply(self, read: LedgerRead) -> set[RunKey]:
        """Take in what :meth:`read` found, as :meth:`poll` does; return the changed keys.

        ``poll()`` is ``apply(read(revs()))`` in one step.
        """
        changed: set[RunKey] = set()
        for li, meta in enumerate(read.metas):
            self.metas[li] = meta
            if read.locked:
                self.locked[li] = read.locked[li]
            if read.fresh and read.fresh[li]:
                self._revs[li] = read.revs[li]
            for run in read.runs[li]:
                key = (li, run.name)
                if key not in self.runs:
                    self.variants.setdefault((li, run.variant), []).append(key)
                self.runs[key] = run
                self._revs[li] = max(self._revs[li], run.rev)
                changed.add(key)
            if not engine_alive(meta, self.locked[li]) and meta.get("backend") != "slurm":
                changed |= self._mark_lost(li)
        return changed

    def send(self, key_or_li: RunKey | int, verb: Verb) -> None:
        """Send ``verb`` to the engine of a run (targeting it) or of ledger index ``li``."""
        if isinstance(key_or_li, tuple):
            li, name = key_or_li
            self.ledgers[li].send(verb, name)
        else:
            self.ledgers[key_or_li].send(verb)

    def close(self) -> None:
        """Close every ledger."""
        for ledger in self.ledgers:
            ledger.close()

    # -- summaries --------------------------------------------------------------------------
    def counts(self) -> Counter[RunState]:
        """Runs per state over all ledgers."""
        return Counter(r.state for r in self.runs.values())

    def summary(self, keys: list[RunKey]) -> VariantSummary:
        """Counts over the runs ``keys``."""
        return VariantSummary(len(keys), Counter(self.runs[k].state for k in keys))

    def cpus(self) -> tuple[int, int]:
        """(CPUs used by running runs, CPU budget over all engines)."""
        used = sum(r.num_cpu for r in self.runs.values() if r.state == RunState.RUNNING)
        budgets: dict[str, int] = {}
        for meta in self.metas:
            budgets[str(meta.get("engine_token"))] = int(meta.get("max_cpus") or 0)
        return used, sum(budgets.values())

    def alive(self) -> list[bool]:
        """Whether each ledger's engine lives."""
        return [engine_alive(m, locked) for m, locked in zip(self.metas, self.locked)]

    def paused(self) -> bool:
        """Whether any engine holds back new runs."""
        return any(bool(m.get("paused")) for m in self.metas)

    def active(self) -> bool:
        """Whether a live engine still has runs to start or finish."""
        alive = self.alive()
        return any(
            alive[li] and r.state in (RunState.PENDING, RunState.RUNNING)
            for (li, _), r in self.runs.items()
        )

    def phase(self) -> str:
        """What the engines are doing, in a word: ``paused``, ``running``, ``all ended`` (the
        runs ended, an engine lingers), ``finished``, ``stopped``, ``engine gone`` or
        ``starting``."""
        alive = self.alive()
        statuses = {str(m.get("status") or "") for m in self.metas}
        active = self.active()
        if active and self.paused():
            return "paused"
        if active:
            return "running"
        if any(alive) and str(EngineStatus.RUNNING) in statuses:
            return "all ended"
        if statuses and statuses <= {str(EngineStatus.FINISHED)}:
            return "finished"
        if str(EngineStatus.STOPPED) in statuses:
            return "stopped"
        if not any(alive):
            return "engine gone"
        return "starting"

    def elapsed(self) -> float | None:
        """Seconds the sweep has run: since its engine started, until it ended (or now).

        An engine that found nothing to do (``--resume`` of a finished sweep, a rerun that
        failed to start) starts and ends at once; then the runs' own start and end times
        measure the sweep, so that an attached finished sweep shows how long it ran.
        """
        starts: list[float] = []
        ends: list[float] = []
        for li, meta in enumerate(self.metas):
            runs = [r for (i, _), r in self.runs.items() if i == li]
            started = float(meta["started"]) if meta.get("started") else None
            ended = float(meta["ended"]) if meta.get("ended") else None
            run_starts = [float(r.started) for r in runs if r.started]
            idle = ended is not None and not any(t >= (started or 0.0) for t in run_starts)
            if (started is None or idle) and run_starts:
                started = min(run_starts)
                if ended is not None:
                    ended = max((float(r.ended) for r in runs if r.ended), default=ended)
            if started is not None:
                starts.append(started)
            if ended is not None:
                ends.append(ended)
        if not starts:
            return None
        end = max(ends) if len(ends) == len(self.metas) else self.clock()
        return max(end - min(starts), 0.0)

    def eta(self) -> float | None:
        """Seconds until all runs end: the runs played through the engine's queue (the auto
        order) in the budget, each taking its predicted duration (its own earlier success, else
        its variant's, as the engine predicts), else the mean of the runs that succeeded.
        Played again when a run changed or :data:`ETA_EVERY` seconds passed."""
        now = self.clock()
        key = (tuple(self._revs), self.cpus()[1])
        if self._eta is not None and self._eta[0] == key and now - self._eta[1] < ETA_EVERY:
            left = self._eta[2]
            return None if left is None else max(left - (now - self._eta[1]), 0.0)
        todo = [r for r in self.runs.values() if r.state in (RunState.PENDING, RunState.RUNNING)]
        finished = [r for r in self.runs.values() if r.state == RunState.SUCCEEDED and r.started]
        took = [(r.ended or r.started or 0) - (r.started or 0) for r in finished]
        mean = sum(took) / len(took) if took else None
        if self._known is None:
            self._known = Durations()
            for ledger in self.ledgers:
                with suppress(sqlite3.Error):
                    for grid, variant, name, seconds in ledger.successes():
                        self._known.add(grid, variant, name, seconds)
        left = forecast(self.runs.values(), self._known, "auto", key[1], now, mean).finish
        self._eta = (key, now, left if todo else 0.0)
        return self._eta[2]

    def exit_status(self) -> int:
        """0 when every run succeeded, 1 when any failed or ended otherwise (DESIGN.md)."""
        return exit_status(r.state for r in self.runs.values())

    def engine_words(self, li: int) -> str:
        """What ledger ``li``'s engine is doing: ``running (pid 41)``, ``finished``,
        ``stopped`` or ``gone (it ended without finishing)``."""
        meta = self.metas[li]
        if self.alive()[li]:
            return f"running (pid {meta.get('engine_pid')})"
        status = str(meta.get("status") or "")
        if status in (EngineStatus.FINISHED, EngineStatus.STOPPED):
            return status
        return "gone (it ended without finishing)"

    def counts_text(self, li: int | None = None) -> str:
        """``9 runs: 4 succeeded, 1 failed, 2 running, 2 pending`` (of ledger ``li``, or all)."""
        runs = [r for (i, _), r in self.runs.items() if li is None or i == li]
        return f"{len(runs)} runs: " + counts_line(r.state for r in runs)

    def records(self, li: int | None = None) -> list[RunRecord]:
        """The runs (of ledger ``li``, or all) in plan order, as the views show them."""
        runs = [r for (i, _), r in self.runs.items() if li is None or i == li]
        return sorted(runs, key=lambda r: r.idx)
