"""Which pending runs start now: the queue, in the sweep's order, walked into free resources.

The order (:mod:`slc_tui.engine.order`) decides which run is offered first; the walk starts
every run whose cores and GPU share are free, and a run that does not fit lets later ones go
(backfilling), until no core is free or the backend takes no more. So that a big run (an
MPI run of several ranks) never waits behind an unbounded stream of smaller ones, each run
that does not fit counts the later runs that start past it: once :attr:`Waits.patience` of
them have (the number of slots of the budget, by default), nothing passes it any more and the
cores that free up are kept for it until it fits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Protocol, TypeVar

from slc_tui.engine.ledger import RunRecord
from slc_tui.engine.order import Order
from slc_tui.engine.slots import Grant, Resources
from slc_tui.plan import Run


class Named(Protocol):
    """A run, a record: anything with the run's name."""

    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=Named)
G = TypeVar("G")


class Waits:
    """How many later runs started past each run that did not fit."""

    def __init__(self, patience: int) -> None:
        self.patience = max(int(patience), 1)
        """Later runs that may start past a waiting run before nothing may."""
        self.passed: Counter[str] = Counter()

    def keep(self, names: set[str]) -> None:
        """Forget the runs not among ``names`` (started elsewhere, cancelled while pending)."""
        for name in [n for n in self.passed if n not in names]:
            del self.passed[name]

    def reserved(self, name: str) -> bool:
        """Whether run ``name`` has waited long enough that nothing passes it."""
        return self.passed[name] >= self.patience


def walk(
    queue: Iterable[T], take: Callable[[T], G | None], full: Callable[[], bool], waits: Waits
) -> Iterator[tuple[T, G]]:
    """Each item of ``queue`` that ``take`` grants something now, in order, until ``full()``
    or a run that has waited out its patience does not fit (it keeps what frees up)."""
    passed_over: list[str] = []
    for item in queue:
        if full():
            return
        grant = take(item)
        if grant is None:
            if waits.reserved(item.name):
                return
            passed_over.append(item.name)
            continue
        waits.passed.pop(item.name, None)
        for name in passed_over:
            waits.passed[name] += 1
        yield item, grant


class Scheduler:
    """The engine's queue and walk: what starts at each turn of its loop."""

    def __init__(self, mode: str, slots: int) -> None:
        self.order = Order(mode)
        """The ranking, and what it knows of durations."""
        self.waits = Waits(slots)

    def starts(
        self,
        records: Iterable[RunRecord],
        runs: Mapping[str, Run],
        resources: Resources,
        can_start: Callable[[], bool],
    ) -> Iterator[tuple[Run, Grant]]:
        """Each pending run (among all the sweep's ``records``) that starts now, with what it
        was granted (taken already: the caller gives it back if the start fails)."""

        def full() -> bool:
            return resources.exhausted() or not can_start()

        if full():
            return
        queue = [runs[r.name] for r in self.order.rank(records) if r.name in runs]
        self.waits.keep({run.name for run in queue})
        for run, grant in walk(queue, resources.take, full, self.waits):
            self.order.mark(run.grid, run.variant)
            yield run, grant
