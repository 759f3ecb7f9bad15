"""When a sweep should end: its runs played through the engine's own queue and walk with the
predicted durations (the dry run's predicted finish, the views' ETA).

The play uses :class:`~slc_tui.engine.order.Order` and :func:`~slc_tui.engine.schedule.walk`,
so the forecast packs runs as the engine does; it counts cores only (a GPU budget is left
out), takes the order as it stands now (what later successes would teach is left out), and
needs a duration for every run that is still to end.
"""

from __future__ import annotations

import heapq
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from slc_tui.durations import Durations
from slc_tui.engine.ledger import Ledger, RunRecord
from slc_tui.engine.order import Order
from slc_tui.engine.schedule import Waits, walk
from slc_tui.errors import SlcError
from slc_tui.plan import Run
from slc_tui.states import RunState

LIMIT = 20_000
"""Above this many runs still to run, the forecast is a bound (:func:`bound`), not a play."""


@dataclass
class Forecast:
    """What the queue would do now."""

    order: list[RunRecord]
    """The pending runs, first offered first."""
    unknown: int
    """Runs still to end whose duration nothing predicts (the fallback included)."""
    finish: float | None
    """Seconds from now until the last run ends; None while any duration is unknown."""


@dataclass(frozen=True)
class _Item:
    name: str
    cpus: int
    seconds: float


def forecast(
    records: Iterable[RunRecord],
    known: Durations,
    mode: str,
    slots: int,
    now: float,
    fallback: float | None = None,
) -> Forecast:
    """The order of the pending runs among ``records`` and the time until all runs end, in a
    budget of ``slots``; a run nothing predicts takes ``fallback`` seconds (None: unknown)."""
    records = list(records)
    order = Order(mode, known)
    ranked = order.rank(records)
    slots = max(slots, 1)

    def seconds(r: RunRecord) -> float | None:
        predicted = order.predict(r)
        return fallback if predicted is None else predicted

    running: list[tuple[int, float]] = []
    queue: list[_Item] = []
    unknown = 0
    for r in records:
        if r.state == RunState.RUNNING:
            took = seconds(r)
            unknown += took is None
            spent = now - (r.started or now)
            running.append((min(r.num_cpu, slots), max((took or 0.0) - spent, 0.0)))
    for r in ranked:
        took = seconds(r)
        unknown += took is None
        queue.append(_Item(r.name, max(r.num_cpu, 1), took or 0.0))
    how = play if len(queue) <= LIMIT else bound
    finish = None if unknown else how(queue, running, slots)
    return Forecast(ranked, unknown, finish)


def play(queue: list[_Item], running: list[tuple[int, float]], slots: int) -> float:
    """Seconds until the last run ends: ``running`` holds (cores, seconds left) of the runs
    going now; ``queue`` starts in order, walked into the cores as they free up."""
    ends = [(left, cores) for cores, left in running]
    heapq.heapify(ends)
    free = [max(slots - sum(cores for cores, _ in running), 0)]
    last = max((left for _, left in running), default=0.0)
    now, head, done = 0.0, 0, set()
    waits = Waits(slots)

    def take(item: _Item) -> int | None:
        need = min(item.cpus, slots)
        if need > free[0]:
            return None
        free[0] -= need
        return need

    def waiting() -> Iterator[_Item]:
        return (queue[i] for i in range(head, len(queue)) if queue[i].name not in done)

    while True:
        for item, cores in walk(waiting(), take, lambda: free[0] == 0, waits):
            heapq.heappush(ends, (now + item.seconds, cores))
            last = max(last, now + item.seconds)
            done.add(item.name)
        while head < len(queue) and queue[head].name in done:
            head += 1
        if head == len(queue) or not ends:
            return last
        now, cores = heapq.heappop(ends)
        free[0] += cores
        while ends and ends[0][0] <= now:
            free[0] += heapq.heappop(ends)[1]


def bound(queue: list[_Item], running: list[tuple[int, float]], slots: int) -> float:
    """A quick lower bound of :func:`play`: the work spread over the budget, or the longest
    run, whichever is longer."""
    work = sum(min(i.cpus, slots) * i.seconds for i in queue) + sum(c * s for c, s in running)
    longest = max([i.seconds for i in queue] + [s for _, s in running], default=0.0)
    return max(work / slots, longest)


def known_of(paths: Iterable[str | os.PathLike[str]]) -> Durations:
    """What the ledgers at ``paths`` (those there are and can be read) teach of durations."""
    known = Durations()
    for path in paths:
        if not os.path.exists(path):
            continue
        try:
            ledger = Ledger.open(path)
        except (OSError, SlcError):
            continue
        try:
            for grid, variant, name, seconds in ledger.successes():
                known.add(grid, variant, name, seconds)
        except sqlite3.Error:
            pass
        finally:
            ledger.close()
    return known


def planned(runs: Iterable[Run]) -> list[RunRecord]:
    """Records of planned runs that have not run (what a fresh sweep starts from)."""
    return [
        RunRecord(r.name, r.idx, r.grid, r.variant, r.seed, {}, r.output_dir, r.num_cpu)
        for r in runs
    ]
