"""CPU% and memory of a run's whole process tree (psutil), for the selected run only."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

MIN_INTERVAL = 0.5
"""Seconds under which a new sample repeats the last one: psutil's CPU% over a shorter
time is noise (two samples in one tick read 0%)."""


@dataclass
class TreeUsage:
    """What a process tree uses right now."""

    cpu: float
    """CPU percent summed over the processes (100 per busy core)."""
    rss: int
    """Resident memory in bytes, summed."""
    procs: int
    """How many processes the tree has."""
    gpu: str = ""
    """Where NVML answers: the run's devices, their use and the run's memory on them."""


class ProcessSampler:
    """Samples one process tree; keeps psutil objects so CPU% covers the time between calls."""

    def __init__(self) -> None:
        self._procs: dict[int, Any] = {}
        self._last: tuple[int, float, TreeUsage] | None = None

    def sample(self, pid: int | None, gpus: str = "") -> TreeUsage | None:
        """The usage of ``pid`` and its descendants, or None when it is gone; with the
        devices ``gpus`` (a ``CUDA_VISIBLE_DEVICES`` text) as NVML sees them."""
        import psutil

        if pid is None:
            return None
        now = time.monotonic()
        if self._last and self._last[0] == pid and now - self._last[1] < MIN_INTERVAL:
            return self._last[2]
        try:
            root = self._procs.get(pid) or psutil.Process(pid)
            tree = [root, *root.children(recursive=True)]
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            self._procs.clear()
            return None
        known: dict[int, Any] = {}
        cpu, rss = 0.0, 0
        for proc in tree:
            proc = self._procs.get(proc.pid, proc)
            try:
                cpu += proc.cpu_percent(None)
                rss += proc.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            known[proc.pid] = proc
        self._procs = known
        usage = TreeUsage(cpu, rss, len(known), _gpu_text(gpus, list(known)))
        self._last = (pid, now, usage)
        return usage


def fmt_bytes(n: int) -> str:
    """``61 MB``, ``1.2 GB``."""
    if n >= 1e9:
        return f"{n / 1e9:.1f} GB"
    return f"{n / 1e6:.0f} MB"


def _gpu_text(gpus: str, pids: list[int]) -> str:
    """``GPU 0 45% busy, 3.1/80.0 GB, this run 1.2 GB`` for each device NVML answers for."""
    if not gpus:
        return ""
    from slc_tui.gpus import device_usage, ids_of, usage_line

    found = device_usage(ids_of(gpus))
    return " · ".join(usage_line(u, pids) for u in found.values())
