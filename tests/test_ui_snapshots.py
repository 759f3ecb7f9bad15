"""Snapshots of the main screens at 80x24 and 160x48 (a frozen clock, a hand-filled ledger).

Update them after a deliberate change with ``pytest tests/test_ui_snapshots.py
--snapshot-update``, and look at the SVGs before committing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from ui_fixtures import clock, make_sweep

from slc_tui.ui.app import SlcApp
from slc_tui.ui.nodes import RunNode, VariantNode

SMALL, BIG = (80, 24), (160, 48)


@pytest.fixture
def app(in_tmp: Path) -> SlcApp:
    dashboard = SlcApp([make_sweep(in_tmp).path], clock=clock)
    dashboard.cwd = "/home/me/runs"  # the quit dialog's attach hint names it
    return dashboard


async def settle(pilot: Pilot) -> None:
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


def select(data: Any) -> Any:
    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        pilot.app.screen.query_one("#tree").select_data(data)
        await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", [SMALL, BIG], ids=["80x24", "160x48"])
def test_main_screen_running_run(snap_compare: Any, app: SlcApp, size: tuple[int, int]) -> None:
    assert snap_compare(app, terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", [SMALL, BIG], ids=["80x24", "160x48"])
def test_failed_run_at_its_traceback(snap_compare: Any, app: SlcApp, size: tuple[int, int]) -> None:
    run_before = select(RunNode((0, "cartpole_pop16_s20")))
    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_variant_curves_of_all_seeds(snap_compare: Any, app: SlcApp) -> None:
    run_before = select(VariantNode((0, "cartpole_pop16")))
    assert snap_compare(app, terminal_size=BIG, run_before=run_before)


@pytest.mark.parametrize("size", [SMALL, BIG], ids=["80x24", "160x48"])
def test_compare_table(snap_compare: Any, app: SlcApp, size: tuple[int, int]) -> None:
    assert snap_compare(app, press=["c"], terminal_size=size, run_before=settle)


def test_quit_dialog(snap_compare: Any, app: SlcApp) -> None:
    assert snap_compare(app, press=["q"], terminal_size=SMALL, run_before=settle)


def test_help(snap_compare: Any, app: SlcApp) -> None:
    assert snap_compare(app, press=["question_mark"], terminal_size=SMALL, run_before=settle)
