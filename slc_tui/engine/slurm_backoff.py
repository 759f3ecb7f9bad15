"""When the Slurm backend looks at the queue next: soon after a change, rarely while none.

As submitit does: the first look comes ``first`` seconds after a submission or a change, and
each look that saw nothing change waits ``factor`` times longer, up to ``most`` seconds (a
minute by default: a controller serves many users). A change sets it back to ``first``.
"""

from __future__ import annotations


class Backoff:
    """The interval between two looks at the queue (see the module)."""

    def __init__(self, first: float, most: float, factor: float = 1.5) -> None:
        self.first = first
        """Seconds after a change."""
        self.most = max(most, first)
        """Seconds at most while nothing changes."""
        self.factor = factor
        self.interval = first
        """The wait before the next look."""

    def after(self, changed: bool) -> float:
        """The wait after a look that saw a change (``changed``) or none."""
        self.interval = self.first if changed else min(self.most, self.interval * self.factor)
        return self.interval

    def reset(self) -> float:
        """Back to the shortest wait (a submission, a stop); returns it."""
        self.interval = self.first
        return self.interval
