"""The GPU budget's devices and how much of each is taken (fractions of a device)."""

from __future__ import annotations

from collections.abc import Sequence

EPS = 1e-9


class Devices:
    """Device ids with their load (0.0 free .. 1.0 full); a run takes a fraction of one
    device, or whole devices."""

    def __init__(self, ids: Sequence[int]) -> None:
        self.ids = list(ids)
        self.load = dict.fromkeys(self.ids, 0.0)
        """Share of each device taken."""

    def take(self, share: float) -> list[int] | None:
        """The devices a run of ``share`` gets (the least loaded first), taken; or None.

        A fraction takes part of one device that has room for it; a whole number ``n`` takes
        ``n`` free devices (all of the budget when ``n`` exceeds it).
        """
        if share < 1.0:
            room = [d for d in self.ids if self.load[d] + share <= 1.0 + EPS]
            if not room:
                return None
            best = min(room, key=lambda d: (self.load[d], self.ids.index(d)))
            self.load[best] += share
            return [best]
        n = min(round(share), len(self.ids))
        free = [d for d in self.ids if self.load[d] <= EPS]
        if len(free) < n:
            return None
        for d in free[:n]:
            self.load[d] = 1.0
        return free[:n]

    def give(self, ids: Sequence[int], share: float) -> None:
        """Return ``share`` of each device in ``ids``."""
        for d in ids:
            if d in self.load:
                self.load[d] = max(0.0, self.load[d] - share)
