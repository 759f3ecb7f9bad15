"""The queue: in which order pending runs are offered to free cores (``[run] order``).

- ``plan``: plan order (the order of the grid file's values), as before there were orders.
- ``breadth``: round by round: the first seed of every variant (in plan order), then the
  second seed of every variant, and so on. A retry keeps its round.
- ``longest-first``: the runs whose duration is predicted (:mod:`slc_tui.durations`),
  longest first; then the runs of unknown duration, in plan order.
- ``auto`` (the default): first one seed of every variant that has not started yet (early
  signal across the whole grid), then the remaining runs longest-first as above. A variant
  has started once any of its runs has run (in this sweep, or kept from an earlier one), so a
  retry goes with the remaining runs.

Ties keep plan order. Which runs may pass a run that does not fit is the walk's business
(:mod:`slc_tui.engine.schedule`).
"""

from __future__ import annotations

from collections.abc import Iterable

from slc_tui.durations import Durations
from slc_tui.engine.ledger import Ledger, RunRecord
from slc_tui.options import ORDERS
from slc_tui.states import RunState


class Order:
    """Ranks a sweep's pending runs; learns durations as runs succeed."""

    def __init__(self, mode: str = "auto", known: Durations | None = None) -> None:
        if mode not in ORDERS:
            raise ValueError(f"unknown order {mode!r}; known: {', '.join(ORDERS)}")
        self.mode = mode
        self.known = known if known is not None else Durations()
        """What is known of how long runs take (the ledger's history, then this sweep's)."""
        self.started: set[tuple[str, str]] = set()
        """``(grid, variant)`` of the variants that had a run started by this engine."""
        self._learned: set[tuple[str, int]] = set()

    def learn_ledger(self, ledger: Ledger) -> None:
        """Learn the durations of every success an earlier sweep left in ``ledger``."""
        for grid, variant, name, seconds in ledger.successes():
            self.known.add(grid, variant, name, seconds)

    def learn(self, records: Iterable[RunRecord]) -> None:
        """Learn the durations of the succeeded runs among ``records`` (each attempt once)."""
        for r in records:
            done = r.state == RunState.SUCCEEDED and r.started and r.ended
            if done and (r.name, r.attempt) not in self._learned:
                self._learned.add((r.name, r.attempt))
                self.known.add(r.grid, r.variant, r.name, (r.ended or 0.0) - (r.started or 0.0))

    def mark(self, grid: str, variant: str) -> None:
        """Note that a run of ``variant`` started."""
        self.started.add((grid, variant))

    def predict(self, r: RunRecord) -> float | None:
        """Seconds run ``r`` is expected to take (None: unknown)."""
        return self.known.predict(r.grid, r.variant, r.name)

    def rank(self, records: Iterable[RunRecord]) -> list[RunRecord]:
        """The pending runs among ``records`` (all of the sweep's runs), first offered first."""
        records = list(records)
        self.learn(records)
        pending = [r for r in records if r.state == RunState.PENDING]
        if self.mode == "plan":
            return sorted(pending, key=lambda r: r.idx)
        if self.mode == "breadth":
            rounds = _rounds(records)
            return sorted(pending, key=lambda r: (rounds[r.name], r.idx))
        firsts = self._firsts(records, pending) if self.mode == "auto" else set()

        def key(r: RunRecord) -> tuple[int, int, float, int]:
            seconds = self.predict(r)
            unknown = seconds is None
            return (r.name not in firsts, unknown, -(seconds or 0.0), r.idx)

        return sorted(pending, key=key)

    def _firsts(self, records: list[RunRecord], pending: list[RunRecord]) -> set[str]:
        """The first pending run of each variant that has not started."""
        started = set(self.started)
        started.update((r.grid, r.variant) for r in records if r.state != RunState.PENDING)
        first: dict[tuple[str, str], RunRecord] = {}
        for r in pending:
            key = (r.grid, r.variant)
            if key not in started and (key not in first or r.idx < first[key].idx):
                first[key] = r
        return {r.name for r in first.values()}


def _rounds(records: list[RunRecord]) -> dict[str, int]:
    """Each run's position among its variant's runs in plan order (0: its first seed)."""
    seen: dict[tuple[str, str], int] = {}
    out: dict[str, int] = {}
    for r in sorted(records, key=lambda r: r.idx):
        key = (r.grid, r.variant)
        out[r.name] = seen.get(key, 0)
        seen[key] = out[r.name] + 1
    return out
