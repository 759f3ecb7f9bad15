"""CPU% of the selected run's processes: two samples in one tick do not read 0%."""

from __future__ import annotations

import os
import time

from slc_tui.ui.proc_stats import MIN_INTERVAL, ProcessSampler


def spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_a_second_sample_in_the_same_tick_repeats_the_first() -> None:
    sampler = ProcessSampler()
    pid = os.getpid()
    assert sampler.sample(pid) is not None  # psutil's baseline
    spin(MIN_INTERVAL + 0.1)
    first = sampler.sample(pid)
    second = sampler.sample(pid)  # e.g. the ledger poll and the stats timer in one tick
    assert first is not None and first.cpu > 0
    assert second == first


def test_a_gone_process_reads_none() -> None:
    assert ProcessSampler().sample(2**22 + 12345) is None
