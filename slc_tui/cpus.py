"""The CPU budget: which cores runs may use, and what ``"auto"`` means for a CPU count.

One meaning everywhere (``call_experiment``, the plan and the engine): the physical cores
inside this process's CPU affinity, so that ``taskset`` or a container's cpuset is obeyed.
"""

from __future__ import annotations

import heapq
import os
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Union

CpuCount = Union[int, str]
"""A count of CPUs: a positive int, or ``"auto"``."""

MAX_BUDGET = 65_536
"""The largest CPU budget on any backend: the engine keeps a slot per CPU of the budget,
and no one sweep needs more at once (a larger ``max_cpus`` is a typo, not a plan)."""
PER_CPU = 64
"""Without ``oversubscribe``, a local budget may give each CPU this process may use to at
most this many runs at once (64 on a 2-CPU machine is 128: far beyond that is a mistake)."""


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
    if n > MAX_BUDGET:
        raise ValueError(f"a CPU budget of {n} is beyond the limit of {MAX_BUDGET}")
    if n <= len(cores):
        return cores[:n]
    extra = [c for c in _affinity() if c not in cores]
    pool = cores + extra
    return [pool[i % len(pool)] for i in range(n)]


def resolve_num_cpu(num_cpu: CpuCount) -> int:
    """The number of MPI ranks of a run: ``num_cpu`` itself, or for ``"auto"`` the physical
    cores inside this process's affinity.

    Raises:
        ValueError: ``num_cpu`` is neither a positive integer nor ``"auto"``, or is beyond
            :data:`MAX_BUDGET`.
    """
    if num_cpu == "auto":
        return auto_cpu_count()
    if isinstance(num_cpu, bool) or not isinstance(num_cpu, int) or num_cpu < 1:
        raise ValueError(f"num_cpu must be a positive integer or 'auto', not {num_cpu!r}")
    if num_cpu > MAX_BUDGET:
        raise ValueError(f"num_cpu {num_cpu} is beyond slc-tui's limit of {MAX_BUDGET:,} ranks")
    return num_cpu


def budget_problem(max_cpus: CpuCount, *, local: bool, oversubscribe: bool) -> str | None:
    """Why ``max_cpus`` is no budget for this sweep, or None.

    On any backend at most :data:`MAX_BUDGET`. Locally, without ``oversubscribe``, at most
    :data:`PER_CPU` times the CPUs of this process's affinity. On Slurm the budget counts the
    cluster's CPUs, so this machine's size does not limit it.
    """
    if max_cpus == "auto":
        return None
    n = int(max_cpus)
    if n > MAX_BUDGET:
        return f"max_cpus {n} is beyond slc-tui's limit of {MAX_BUDGET:,} CPUs"
    cpus = len(_affinity())
    if local and not oversubscribe and n > PER_CPU * cpus:
        return (
            f"max_cpus {n} is far beyond this machine's {cpus} CPUs (at most "
            f"{PER_CPU * cpus:,}: {PER_CPU} runs per CPU)"
        )
    return None


class _Packer:
    """Pending runs by size (slots a run takes), each a queue of ``[start, stop)`` ranges of
    plan positions; :meth:`wave` takes the runs that start together."""

    def __init__(self, segments: Sequence[tuple[int, int]], budget: int) -> None:
        self.budget = budget
        self.queues: dict[int, deque[list[int]]] = {}
        pos = 0
        for count, size in segments:
            queue = self.queues.setdefault(min(size, budget), deque())
            if queue and queue[-1][1] == pos:
                queue[-1][1] += count
            elif count:
                queue.append([pos, pos + count])
            pos += count

    def pending(self) -> list[int]:
        """The sizes that still have runs."""
        return [size for size, queue in self.queues.items() if queue]

    def left(self, size: int) -> int:
        """How many runs of ``size`` wait."""
        return sum(b - a for a, b in self.queues[size])

    def wave(self) -> list[tuple[int, int]]:
        """The next wave: scan pending runs in plan order, start each that fits."""
        free, wave = self.budget, []
        heap = [(q[0][0], size) for size, q in self.queues.items() if q]
        heapq.heapify(heap)
        while heap:
            start, size = heapq.heappop(heap)
            if size > free:
                continue  # free only shrinks: no later run of this size fits either
            queue = self.queues[size]
            head = queue[0]
            upto = min(head[1], heap[0][0]) if heap else head[1]
            k = min(upto - start, free // size)
            wave.append((start, start + k))
            free -= k * size
            head[0] += k
            if head[0] == head[1]:
                queue.popleft()
            if queue and size <= free:
                heapq.heappush(heap, (queue[0][0], size))
        return wave


def iter_waves(segments: Sequence[tuple[int, int]], budget: int) -> Iterator[list[tuple[int, int]]]:
    """How runs of equal length start in ``budget`` slots, wave after wave.

    ``segments`` are ``(count, ranks)`` of consecutive runs in plan order; a run takes
    ``min(ranks, budget)`` slots. As the engine does, each wave scans the pending runs in plan
    order and starts every one that fits (a run that does not fit lets later, smaller runs
    go first). Each wave is a list of ``[start, stop)`` ranges of plan positions. Linear in
    the number of runs (each step takes a whole range of equal runs).
    """
    packer = _Packer(segments, budget)
    while packer.pending():
        yield packer.wave()


def pack_summary(
    segments: Sequence[tuple[int, int]], budget: int, keep: int = 3
) -> tuple[int, int, list[list[tuple[int, int]]]]:
    """(number of waves, most runs in one wave, the first ``keep`` waves) of
    :func:`iter_waves`; once one size of run is left, the rest is counted, not packed."""
    packer = _Packer(segments, budget)
    waves, widest = 0, 0
    first: list[list[tuple[int, int]]] = []
    while sizes := packer.pending():
        if len(sizes) == 1 and len(first) >= keep:
            left, per = packer.left(sizes[0]), budget // sizes[0]
            return waves - (-left // per), max(widest, min(left, per)), first
        wave = packer.wave()
        waves += 1
        widest = max(widest, sum(b - a for a, b in wave))
        if len(first) < keep:
            first.append(wave)
    return waves, widest, first
