"""The sweep's resources: slots of the CPU budget (each a core id) and, when the sweep has a
GPU budget, its devices; a run takes its cores and its GPU share together, or waits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slc_tui.engine.devices import Devices
from slc_tui.plan import Run


@dataclass
class Grant:
    """What one run holds while it runs."""

    cores: list[int]
    """Core ids, one per slot taken."""
    gpus: list[int] | None = None
    """Device ids; empty when the sweep has a GPU budget and the run asks for none, None
    when the sweep has no GPU budget (the run's ``CUDA_VISIBLE_DEVICES`` is left alone)."""
    share: float = 0.0
    """How much of each device in ``gpus`` the run holds (1.0: the whole device)."""


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


class Resources:
    """Cores and devices together: :meth:`take` grants a run both, or nothing."""

    def __init__(self, cores: list[int], devices: Sequence[int] | None = None) -> None:
        self.slots = Slots(cores)
        self.devices = Devices(devices) if devices else None
        """The GPU budget; None when the sweep has none."""

    def take(self, run: Run) -> Grant | None:
        """The cores and GPU share of ``run``, taken; None while either is short."""
        if self.devices is None:
            cores = self.slots.take(run.num_cpu)
            return None if cores is None else Grant(cores)
        share = min(run.gpus, 1.0)
        gpus = self.devices.take(run.gpus) if run.gpus else []
        if gpus is None:
            return None
        cores = self.slots.take(run.num_cpu)
        if cores is None:
            self.devices.give(gpus, share)
            return None
        return Grant(cores, gpus, share if gpus else 0.0)

    def give(self, grant: Grant) -> None:
        """Return what ``grant`` held."""
        self.slots.give(grant.cores)
        if grant.gpus and self.devices:
            self.devices.give(grant.gpus, grant.share)

    def exhausted(self) -> bool:
        """True when no run at all could start now (no core free)."""
        return self.slots.free_count() == 0
