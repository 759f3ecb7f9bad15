"""The CPU budget: which cores runs may use, and what ``"auto"`` means for a CPU count.

One meaning everywhere (``call_experiment``, the plan and the engine): the physical cores
inside this process's CPU affinity, so that ``taskset`` or a container's cpuset is obeyed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

CpuCount = Union[int, str]
"""A count of CPUs: a positive int, or ``"auto"``."""


def _affinity() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def _physical_key(cpu: int) -> tuple[str, str] | None:
    topo = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
    try:
        return (
            (topo / "physical_package_id").read_text().strip(),
            (topo / "core_id").read_text().strip(),
        )
    except OSError:
        return None


def physical_cores() -> list[int]:
    """One logical CPU per physical core inside this process's affinity, lowest ids first.

    Falls back to every CPU of the affinity when the topology cannot be read.
    """
    seen: set[tuple[str, str]] = set()
    cores: list[int] = []
    for cpu in _affinity():
        key = _physical_key(cpu)
        if key is None:
            return _affinity()
        if key not in seen:
            seen.add(key)
            cores.append(cpu)
    return cores or _affinity()


def auto_cpu_count() -> int:
    """What ``"auto"`` means for a CPU count: the physical cores this process may use."""
    return len(physical_cores())


def budget_cores(max_cpus: CpuCount) -> list[int]:
    """The core ids of the budget: ``"auto"``, or the first ``max_cpus`` usable cores.

    A budget larger than the machine repeats cores (runs then share them).
    """
    cores = physical_cores()
    if max_cpus == "auto":
        return cores
    n = int(max_cpus)
    if n <= len(cores):
        return cores[:n]
    extra = [c for c in _affinity() if c not in cores]
    pool = cores + extra
    return [pool[i % len(pool)] for i in range(n)]


def resolve_num_cpu(num_cpu: CpuCount) -> int:
    """The number of MPI ranks of a run: ``num_cpu`` itself, or for ``"auto"`` the physical
    cores inside this process's affinity.

    Raises:
        ValueError: ``num_cpu`` is neither a positive integer nor ``"auto"``.
    """
    if num_cpu == "auto":
        return auto_cpu_count()
    if isinstance(num_cpu, bool) or not isinstance(num_cpu, int) or num_cpu < 1:
        raise ValueError(f"num_cpu must be a positive integer or 'auto', not {num_cpu!r}")
    return num_cpu
