"""The engine's side of early stopping: each grid with an ``[early_stop]`` rule has its runs'
progress files read as they grow, its variants judged by :mod:`slc_tui.early_stop`, and every
seed of a variant the rule stops ended at once with the state ``pruned`` (running seeds are
stopped, pending ones never start). A mixin of :class:`~slc_tui.engine.core.Engine`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from slc_tui.early_stop import Decision, Judge, matched
from slc_tui.engine.book import Book
from slc_tui.engine.ledger import RunRecord
from slc_tui.engine.progress import ProgressTail, epoch_of
from slc_tui.plan import GridPlan
from slc_tui.states import EventKind, RunState

COUNTED = frozenset({RunState.RUNNING, RunState.SUCCEEDED, RunState.PRUNED})
"""States of the seeds whose values count (failed, cancelled and lost seeds do not)."""
OPEN = frozenset({RunState.RUNNING, RunState.PENDING})
"""States of the seeds a decision still stops."""


@dataclass
class SeedProgress:
    """The judged metric of one attempt of a run, by epoch, read as its file grows."""

    attempt: int
    tail: ProgressTail
    values: dict[int, float] = field(default_factory=dict)
    final: bool = False
    """Read to its end after the run ended: nothing more comes."""

    columns: tuple[str, ...] = ()
    """The columns of the progress file, once a row came."""

    def read(self, metric: str) -> bool:
        """Take the rows appended since the last read; True when some came."""
        rows = self.tail.poll_rows()
        if rows and not self.columns:
            self.columns = tuple(rows[0])
        first = self.tail.rows - len(rows)
        for n, row in enumerate(rows, 1):
            value = row.get(metric)
            if isinstance(value, float) and math.isfinite(value):
                self.values[epoch_of(row, first + n)] = value
        return bool(rows)


class GridPruner:
    """The early stopping of one grid: its runs' progress and its rule's judge."""

    def __init__(self, plan: GridPlan) -> None:
        assert plan.early_stop is not None
        self.metric = plan.early_stop.metric
        self.judge = Judge(plan.early_stop)
        self.plan = plan
        self.seeds: dict[str, list[str]] = {}
        """The runs of each variant, in plan order."""
        self.names: list[str] = []
        self._index()
        self.progress: dict[str, SeedProgress] = {}
        """Each counted run's values, by name."""
        self.matched: dict[str, dict[int, list[float]]] = {}
        """Each variant's seed values at the epochs it has an aggregate (:func:`matched`)."""
        self._states: dict[str, str] = {}
        self.said = False
        """Whether the missing metric was said (once per engine)."""

    def _index(self) -> None:
        """Know the plan's runs, those an Optuna search added since included."""
        for run in self.plan.runs[len(self.names) :]:
            self.names.append(run.name)
            self.seeds.setdefault(run.variant, []).append(run.name)

    def missing_metric(self) -> str:
        """What to say when runs wrote progress but none has the rule's metric, else ``""``."""
        seen = [p.columns for p in self.progress.values() if p.columns]
        if not seen or any(self.metric in columns for columns in seen):
            return ""
        from slc_tui.gridfile_lines import closest

        near = closest(self.metric, list(seen[0]))
        hint = f"; did you mean {near!r}?" if near else f" (it has {', '.join(seen[0])})"
        return (f"early stop of {self.plan.name}: the progress files have no column "
                f"{self.metric!r}, so nothing is judged{hint}")  # fmt: skip

    def _read(self, record: RunRecord) -> bool:
        """Read what run ``record`` added; True when its values or state changed."""
        seen = self.progress.get(record.name)
        if seen is None or seen.attempt != record.attempt:
            seen = SeedProgress(record.attempt, ProgressTail(record.output_dir))
            self.progress[record.name] = seen
        if seen.final:
            return False
        seen.final = record.state != RunState.RUNNING
        return seen.read(self.metric)

    def decide(self, records: Mapping[str, RunRecord]) -> list[Decision]:
        """The variants to stop now (none when nothing changed since the last call)."""
        if len(self.plan.runs) != len(self.names):
            self._index()
        dirty: set[str] = set()
        for name in self.names:
            record = records[name]
            changed = self._states.get(name) != record.state
            self._states[name] = record.state
            if record.state in COUNTED and record.attempt:
                changed |= self._read(record)
            if record.state == RunState.PRUNED:
                self.judge.pruned.setdefault(record.variant, None)
            if changed:
                dirty.add(record.variant)
        if not dirty:
            return []
        open_variants = set()
        for variant, names in self.seeds.items():
            if variant in dirty or variant not in self.matched:
                counted = [records[n] for n in names if records[n].state in COUNTED]
                curves = [(self.progress[r.name].values, r.state == RunState.RUNNING)
                          for r in counted if r.name in self.progress]  # fmt: skip
                self.matched[variant] = matched(curves)  # a new object: the judge's cue
            if any(records[n].state in OPEN for n in names):
                open_variants.add(variant)
        return self.judge.decide(self.matched, open_variants)


class Prune:
    """Early stopping of the grids that ask for it (``GridPlan.early_stop``)."""

    book: Book
    plans: list[GridPlan]
    _pruners: dict[str, GridPruner] | None = None
    _next_prune = 0.0

    def _stop(self, name: str, state: RunState, reason: str) -> None:
        raise NotImplementedError  # the engine stops a running run

    def _prune(self, every: float) -> None:
        """Judge the variants of every grid with a rule, at most once every ``every`` s."""
        if self._pruners is None:
            self._pruners = {p.name: GridPruner(p) for p in self.plans if p.early_stop}
        now = time.monotonic()
        if not self._pruners or now < self._next_prune:
            return
        self._next_prune = now + every
        for pruner in self._pruners.values():
            decisions = pruner.decide(self.book.records)
            if not pruner.said and (missing := pruner.missing_metric()):
                pruner.said = True
                self.book.say(missing)
            for decision in decisions:
                self._prune_variant(pruner.seeds[decision.variant], decision.reason)

    def _prune_variant(self, names: list[str], reason: str) -> None:
        """End every seed of a variant: running ones stopped, pending ones never started."""
        for name in names:
            state = self.book.records[name].state
            if state == RunState.RUNNING:
                self._stop(name, RunState.PRUNED, reason)
            elif state == RunState.PENDING:
                self.book.set(name, state=RunState.PRUNED, reason=reason)
                self.book.emit(EventKind.FINISHED, name)
