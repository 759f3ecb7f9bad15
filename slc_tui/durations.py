"""How long runs take, as far as it is known: the one prediction that the engine's order, the
dry run's forecast and the views' ETA share.

A run's duration is predicted from, in this order: its own earlier success (an attempt in
the ledger of an earlier sweep of the grid), then the successes of its variant's seeds (in
this sweep or an earlier one; their median), then nothing (None). Only succeeded attempts
count: a failed or stopped one says little about how long a whole run takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Key = tuple[str, str]
"""``(grid, run name)`` or ``(grid, variant)``."""


def median(values: list[float]) -> float:
    """The median of a non-empty list."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


@dataclass
class Durations:
    """Seconds that succeeded runs took, by run and by variant."""

    own: dict[Key, float] = field(default_factory=dict)
    """The latest success of each run, by ``(grid, name)``."""
    variants: dict[Key, dict[str, float]] = field(default_factory=dict)
    """By ``(grid, variant)``: the latest success of each of its runs, by name."""
    _medians: dict[Key, float] = field(default_factory=dict, repr=False)

    def add(self, grid: str, variant: str, name: str, seconds: float) -> None:
        """Learn that run ``name`` of ``variant`` succeeded in ``seconds`` (a later success of
        the same run replaces an earlier one)."""
        seconds = max(float(seconds), 0.0)
        self.own[(grid, name)] = seconds
        self.variants.setdefault((grid, variant), {})[name] = seconds
        self._medians.pop((grid, variant), None)

    def predict(self, grid: str, variant: str, name: str) -> float | None:
        """Seconds run ``name`` is expected to take; None when nothing is known."""
        own = self.own.get((grid, name))
        if own is not None:
            return own
        key = (grid, variant)
        if key not in self._medians:
            seen = self.variants.get(key)
            if not seen:
                return None
            self._medians[key] = median(list(seen.values()))
        return self._medians[key]

    def __len__(self) -> int:
        return len(self.own)
