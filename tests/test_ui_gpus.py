"""The dashboard shows a run's devices, and where NVML answers, their use and the run's own
memory on them (NVML stood in for by a fake that knows this test's process)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ui_fixtures import clock, make_sweep, screen_lines, until

import slc_tui.gpus as gpus
from slc_tui.gpus import DeviceUsage
from slc_tui.ui.app import SlcApp

RUNNING = "cartpole_pop32_s0"


@pytest.fixture
def app(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> SlcApp:
    ledger = make_sweep(in_tmp)
    ledger.update(RUNNING, gpus="1", pid=os.getpid())  # this process stands in for the run
    asked: list[list[int]] = []

    def fake_usage(ids: list[int]) -> dict[int, DeviceUsage]:
        asked.append(list(ids))
        return {1: DeviceUsage(1, 45.0, int(3e9), int(80e9), {os.getpid(): int(1.2e9)})}

    monkeypatch.setattr(gpus, "device_usage", fake_usage)
    return SlcApp([ledger.path], clock=clock)


async def test_details_show_the_runs_devices_and_their_use(app: SlcApp) -> None:
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: any("gpus 1" in line for line in screen_lines(app)))
        text = "\n".join(screen_lines(app))
        assert "GPU 1 45% busy, 3.0/80.0 GB, this run 1.2 GB" in text
