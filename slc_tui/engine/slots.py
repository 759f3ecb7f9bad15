"""Slots of the CPU budget: each a core id; a run takes as many as it has ranks."""

from __future__ import annotations


class Slots:
    """The budget's cores; runs take disjoint sets of them."""

    def __init__(self, cores: list[int]) -> None:
        self.cores = list(cores)
        """Every slot's core id (a core may repeat when the budget exceeds the machine)."""
        self._free = list(range(len(cores)))

    def free_count(self) -> int:
        """Slots not taken."""
        return len(self._free)

    def take(self, n: int) -> list[int] | None:
        """Take ``n`` slots (the whole budget when ``n`` exceeds it); their cores, or None."""
        n = min(n, len(self.cores))
        if n > len(self._free):
            return None
        taken, self._free = self._free[:n], self._free[n:]
        return [self.cores[i] for i in taken]

    def give(self, cores: list[int]) -> None:
        """Return the slots of ``cores`` (as taken) to the budget."""
        for core in cores:
            for i, c in enumerate(self.cores):
                if c == core and i not in self._free:
                    self._free.append(i)
                    break
        self._free.sort()
