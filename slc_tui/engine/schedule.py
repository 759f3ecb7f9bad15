"""Which pending runs start now: the queue, in the sweep's order, walked into free resources.

The order decides which run is offered first (:func:`plan_order` is the plan's); the walk
starts every run whose cores and GPU share are free, and a run that does not fit lets later
ones go, until no core is free or the backend takes no more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from slc_tui.engine.ledger import RunRecord
from slc_tui.engine.slots import Grant, Resources
from slc_tui.plan import Run


def plan_order(pending: Iterable[RunRecord], runs: Mapping[str, Run]) -> list[Run]:
    """The pending runs in plan order."""
    return [runs[r.name] for r in sorted(pending, key=lambda r: r.idx) if r.name in runs]


def starts(
    queue: Iterable[Run], resources: Resources, can_start: Callable[[], bool]
) -> Iterator[tuple[Run, Grant]]:
    """Each run of ``queue`` that fits now, with what it was granted (taken already: the
    caller gives it back if the start fails)."""
    for run in queue:
        if resources.exhausted() or not can_start():
            return
        grant = resources.take(run)
        if grant is not None:
            yield run, grant
