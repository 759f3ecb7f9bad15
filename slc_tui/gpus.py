"""The GPU budget: which devices a sweep may use, and how much of one a run takes.

``[run] gpus`` is ``"auto"`` (ask NVML, within this process's ``CUDA_VISIBLE_DEVICES``), a
list of device ids (used as given, no NVML), or ``0`` (no GPU budget: runs' environments are
left alone). ``gpus_per_run`` is 0, a fraction that divides one device (0.5, 0.25, 1/3...),
or a whole number of devices. ``nvidia-ml-py`` (``pynvml``) is imported only by the
functions that ask NVML: :func:`detect`, :func:`unknown_devices`, :func:`device_usage`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

GpuBudget = Union[str, int, list[int]]
"""``"auto"``, ``0``, or a list of device ids."""
VISIBLE_ENV = "CUDA_VISIBLE_DEVICES"


def share_problem(share: object) -> str | None:
    """Why ``share`` cannot be a run's GPU share, or None when it can."""
    if (isinstance(share, bool) or not isinstance(share, (int, float)) or share < 0
            or not math.isfinite(share)):  # fmt: skip
        return (
            "is not a GPU share; give 0, a fraction that divides one device (0.5) or a whole number"
        )
    if share >= 1:
        if share != int(share):
            return "is not a whole number of devices; above 1 a run takes whole devices"
        return None
    if share > 0 and abs(1 / share - round(1 / share)) > 1e-6:
        return "does not divide one device; give 1/n of it (0.5, 0.25, 0.2...)"
    return None


def budget_problem(value: object) -> str | None:
    """Why ``value`` cannot be ``[run] gpus``, or None."""
    if value == "auto" or (value == 0 and not isinstance(value, bool)):
        return None
    if isinstance(value, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                       for d in value):  # fmt: skip
        if len(set(value)) != len(value):
            return "names a device twice"
        return None
    return 'is not a GPU budget; give "auto", a list of device ids like [0, 1], or 0 for none'


def visible_ids(environ: dict[str, str] | None = None) -> list[int] | None:
    """This process's ``CUDA_VISIBLE_DEVICES`` as device ids (None: not set)."""
    text = (os.environ if environ is None else environ).get(VISIBLE_ENV)
    if text is None:
        return None
    return [int(part) for part in text.split(",") if part.strip().isdigit()]


def _device_count() -> int | str:
    """How many devices NVML shows, or why it cannot say."""
    try:
        import pynvml
    except ImportError:
        return "nvidia-ml-py is not installed (pip install nvidia-ml-py)"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return f"NVML does not answer ({exc})"
    try:
        return int(pynvml.nvmlDeviceGetCount())
    finally:
        pynvml.nvmlShutdown()


def detect() -> tuple[list[int], str]:
    """The devices NVML shows, within ``CUDA_VISIBLE_DEVICES`` when it is set; and what to
    say when there are none (no NVML, no driver, no device), else ``""``."""
    count = _device_count()
    if isinstance(count, str):
        return [], f"no GPUs: {count}"
    visible = visible_ids()
    ids = list(range(count)) if visible is None else [d for d in visible if 0 <= d < count]
    return ids, "" if ids else "no GPUs: NVML shows no device"


def unknown_devices(ids: Sequence[int]) -> list[int] | None:
    """The ids NVML does not know (None: NVML cannot be asked, so nothing is checked)."""
    count = _device_count()
    return None if isinstance(count, str) else [d for d in ids if d >= count]


@dataclass(frozen=True)
class DeviceUsage:
    """What NVML says of one device right now."""

    index: int
    util: float
    """Percent of the last sample period the device was busy."""
    used: int
    """Memory in use, bytes."""
    total: int
    procs: dict[int, int]
    """Memory in use by each process (pid -> bytes), where NVML tells."""

    def of_pids(self, pids: Sequence[int]) -> int:
        """Memory the processes ``pids`` use on this device, bytes."""
        return sum(self.procs.get(pid, 0) for pid in pids)


def device_usage(ids: Sequence[int]) -> dict[int, DeviceUsage]:
    """NVML's view of each device of ``ids`` ({} where NVML does not answer)."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:
        return {}
    out: dict[int, DeviceUsage] = {}
    try:
        for index in ids:
            try:
                handle = pynvml.nvmlDeviceGetHandleByIndex(index)
                util = pynvml.nvmlDeviceGetUtilizationRates(handle).gpu
                mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
                procs = {
                    p.pid: int(p.usedGpuMemory or 0)
                    for p in pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
                }
            except pynvml.NVMLError:
                continue
            out[index] = DeviceUsage(index, float(util), int(mem.used), int(mem.total), procs)
    finally:
        pynvml.nvmlShutdown()
    return out


def usage_line(usage: DeviceUsage, pids: Sequence[int] = ()) -> str:
    """``GPU 0 45% busy, 3.1/80.0 GB`` (and ``, this run 1.2 GB`` for ``pids``)."""
    memory = f"{usage.used / 1e9:.1f}/{usage.total / 1e9:.1f} GB"
    line = f"GPU {usage.index} {usage.util:.0f}% busy, {memory}"
    if pids:
        line += f", this run {usage.of_pids(pids) / 1e9:.1f} GB"
    return line


def ids_of(text: str) -> list[int]:
    """Device ids of a ``CUDA_VISIBLE_DEVICES`` text as the ledger keeps it (``"0,1"``)."""
    return [int(part) for part in text.split(",") if part.strip().isdigit()]
