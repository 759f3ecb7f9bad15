"""Run options: a grid file's ``[run]`` table, overridden by command-line flags."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from slc_tui.cpus import CpuCount
from slc_tui.errors import InputError
from slc_tui.gpus import GpuBudget

BACKENDS = ("local", "slurm")
ORDERS = ("auto", "plan", "longest-first", "breadth")
"""How pending runs are offered to free cores (``[run] order``)."""


@dataclass(frozen=True)
class RunOptions:
    """How a sweep runs. Every field has the default a grid file without ``[run]`` gets."""

    max_cpus: CpuCount = "auto"
    """The CPU budget: ``"auto"`` is psutil's physical cores inside this process's affinity."""
    retries: int = 0
    """How often a failed run is tried again."""
    timeout: float = 0
    """Seconds a run may take before it is stopped and failed; 0 means no limit."""
    fail_fast: bool = False
    """Stop starting new runs after the first failure."""
    backend: str = "local"
    """``"local"`` or ``"slurm"``."""
    oversubscribe: bool = False
    """Allow a run of more ranks than the budget (it then takes the whole budget)."""
    mpiexec: str | None = None
    """Another ``mpiexec`` than the mpich wheel's."""
    slurm: dict[str, Any] = field(default_factory=dict)
    """The grid file's ``[slurm]`` table."""
    gpus: GpuBudget = 0
    """The GPU budget: ``"auto"`` (NVML), a list of device ids, or 0 (none: runs'
    ``CUDA_VISIBLE_DEVICES`` is left alone)."""
    threads: int | None = None
    """Math-library threads per rank (OMP/MKL/OpenBLAS); None: the cores per rank."""
    order: str = "auto"
    """How pending runs are offered to free cores: one of ``ORDERS``."""
    preload: tuple[str, ...] = ()
    """Modules a warm launcher imports once, forking each 1-rank run from it."""

    def override(self, **flags: Any) -> RunOptions:
        """A copy with the flags that were given (not None) taking precedence.

        Raises:
            InputError: a name that is no option (it names the nearest one).
        """
        names = [f.name for f in fields(self)]
        for key in flags:
            if key not in names:
                from slc_tui.gridfile_lines import closest  # only on an error

                near = closest(key, names)
                hint = f"; did you mean {near!r}?" if near else f" (known: {', '.join(names)})"
                raise InputError(f"unknown run option {key!r}{hint}")
        return replace(self, **{k: v for k, v in flags.items() if v is not None})
