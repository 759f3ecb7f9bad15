"""The dashboard under load: a flooding log, 10,000 runs, a hangup, NO_COLOR."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from ui_fixtures import clock, make_sweep, until, write_lines

from slc_tui.engine.ledger import Ledger, RunRecord, ledger_path
from slc_tui.ui.app import HANGUP, SlcApp, install_signal_handlers
from slc_tui.ui.log_view import MAX_LINES, LogView
from slc_tui.ui.nodes import RunNode
from slc_tui.ui.variant_tree import VariantTree


async def test_a_flooding_log_stays_bounded(in_tmp: Path) -> None:
    ledger = make_sweep(in_tmp)
    app = SlcApp([ledger.path], clock=clock)
    out = Path(ledger.run("cartpole_pop32_s0").output_dir) / "output.log"  # type: ignore[union-attr]
    write_lines(out, [f"old {i} " + "x" * 60 for i in range(100_000)], mode="w")
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.screen.query_one(LogView)
        await until(pilot, lambda: log.lines and log.lines[-1].startswith("old 99999"))
        assert len(log.lines) <= MAX_LINES
        write_lines(out, [f"new {i} " + "y" * 60 for i in range(200_000)])  # ~14 MB at once
        await until(pilot, lambda: log.lines[-1].startswith("new 199999"))
        assert len(log.lines) <= MAX_LINES
        assert any("MB skipped" in line for line in log.lines)
        assert log.following
        await pilot.press("j")  # keys still answered
        assert app.screen.selected != RunNode((0, "cartpole_pop32_s0"))


def big_ledger(root: Path, runs: int) -> Ledger:
    ledger = Ledger.create(ledger_path(root / "data", "big"))
    records = [
        RunRecord(f"big_v{i // 3}_s{i % 3}", i, "big", f"big_v{i // 3}", i % 3, {"v": i // 3},
                  str(root / "data" / f"big_v{i // 3}" / f"big_v{i // 3}_s{i % 3}"), 1)
        for i in range(runs)
    ]  # fmt: skip
    ledger.add_runs(records)
    ledger.set_meta(grid_name="big", max_cpus=2, status="finished", started=0.0, ended=1.0)
    return ledger


@pytest.mark.slow
async def test_ten_thousand_runs_open_lazily(in_tmp: Path) -> None:
    ledger = big_ledger(in_tmp, 10_000)
    app = SlcApp([ledger.path])
    async with app.run_test(size=(80, 24)) as pilot:
        tree = app.screen.query_one(VariantTree)
        await until(pilot, lambda: len(tree.variant_nodes) == 3334)
        assert len(tree.run_nodes) < 10  # seeds are built only for opened variants
        await pilot.press("G", "K", "K", "l")
        await until(pilot, lambda: len(tree.run_nodes) >= 3)
        ledger.update("big_v3333_s0", state="failed", reason="boom")
        await until(pilot, lambda: app.model.runs[(0, "big_v3333_s0")].state == "failed")
        await pilot.press("f", "f")  # failed only
        await until(pilot, lambda: list(tree.run_nodes) == [(0, "big_v3333_s0")])


async def test_sighup_quits_and_leaves_the_sweep(in_tmp: Path) -> None:
    ledger = make_sweep(in_tmp)
    app = SlcApp([ledger.path], clock=clock)
    previous_cont = signal.getsignal(signal.SIGCONT)
    async with app.run_test(size=(80, 24)) as pilot:
        restore = install_signal_handlers(app)
        try:
            os.kill(os.getpid(), signal.SIGHUP)
            await until(pilot, lambda: app.return_value is not None)
            assert signal.getsignal(signal.SIGCONT) == signal.SIG_DFL
        finally:
            restore()
            signal.signal(signal.SIGCONT, previous_cont)
    assert app.return_value == HANGUP
    assert ledger.take_commands() == []  # nothing was stopped


async def test_no_color(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = SlcApp([make_sweep(in_tmp).path], clock=clock)
    assert app.no_color
    async with app.run_test(size=(80, 24)) as pilot:
        tree = app.screen.query_one(VariantTree)
        await until(pilot, lambda: len(tree.run_nodes) == 9)
        assert str(tree.run_nodes[(0, "cartpole_pop16_s20")].label).startswith("✘")
