"""The dashboard against the real engine on small real grids (background engine processes)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import THUNKS, cli, wait_for, write_grid
from ui_fixtures import until

from slc_tui.engine import ledger as L
from slc_tui.engine.claim import engine_alive
from slc_tui.options import RunOptions
from slc_tui.plan import plan_grid
from slc_tui.run_utils import ExperimentGrid
from slc_tui.states import RunState
from slc_tui.sweep.lifecycle import start_background
from slc_tui.sweep.prepare import from_plans
from slc_tui.ui.app import SlcApp
from slc_tui.ui.log_view import LogView
from slc_tui.ui.nodes import RunNode
from slc_tui.ui.quit_dialog import QuitDialog
from slc_tui.ui.variant_tree import VariantTree

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_leftovers")]
SIZE = (160, 48)


@pytest.fixture
def start() -> Iterator[Callable[..., list[Path]]]:
    """Start a background engine on a plan; stop it at the end of the test."""
    procs: list[tuple[subprocess.Popen[bytes], list[Path]]] = []

    def go(name: str, thunk: str, params: dict[str, Any], max_cpus: int = 2) -> list[Path]:
        grid = ExperimentGrid(name)
        for key, vals in params.items():
            grid.add(key, vals)
        # A thunk by file path: the background engine's runs cannot import tests/ modules.
        plan = plan_grid(grid, f"{THUNKS}:{thunk}", data_dir="data", options=RunOptions())
        handle, _ = start_background(from_plans([plan], RunOptions(max_cpus=max_cpus)))
        proc, paths = handle.process, handle.paths
        assert proc is not None
        procs.append((proc, paths))
        return paths

    yield go
    for proc, paths in procs:
        if proc.poll() is None:
            L.Ledger.open(paths[0]).send("stop_all")
            proc.wait(30)


def labels(app: SlcApp) -> dict[str, str]:
    tree = app.screen.query_one(VariantTree)
    return {key[1]: str(node.label) for key, node in tree.run_nodes.items()}


def state(app: SlcApp, name: str) -> str:
    return app.model.runs[(0, name)].state


async def test_tree_and_log_follow_a_real_sweep(start: Callable[..., list[Path]]) -> None:
    paths = start("uiwork", "work", {"seed": [0, 1, 2], "secs": 0.3})
    app = SlcApp(paths)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(labels(app)) == 3)
        assert sorted(labels(app)) == ["uiwork_s0", "uiwork_s1", "uiwork_s2"]
        await until(pilot, lambda: all(t.startswith("✔") for t in labels(app).values()))
        assert "AvgRet" in labels(app)["uiwork_s2"]
        app.screen.query_one(VariantTree).select_data(RunNode((0, "uiwork_s1")))
        log = app.screen.query_one(LogView)
        await until(pilot, lambda: "done seed=1" in log.lines)
        await pilot.press("q")  # every run ended: no question
        await until(pilot, lambda: app.return_value is not None)
    assert app.return_value == 0


async def test_stop_and_rerun_act_on_the_selected_run(start: Callable[..., list[Path]]) -> None:
    paths = start("uihang", "hang", {"seed": [0, 1]})
    app = SlcApp(paths)
    async with app.run_test(size=SIZE) as pilot:
        both = ("uihang_s0", "uihang_s1")
        await until(pilot, lambda: {state(app, n) for n in both} == {"running"})
        app.screen.query_one(VariantTree).select_data(RunNode((0, "uihang_s1")))
        await until(pilot, lambda: app.screen.selected == RunNode((0, "uihang_s1")))
        await pilot.press("k", "k")
        await until(pilot, lambda: state(app, "uihang_s1") == "cancelled")
        assert state(app, "uihang_s0") == "running"
        await until(pilot, lambda: labels(app)["uihang_s1"].startswith("⊘"))
        await pilot.press("r")
        await until(pilot, lambda: app.model.runs[(0, "uihang_s1")].attempt == 2)
        await until(pilot, lambda: state(app, "uihang_s1") == "running")
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitDialog))
        await pilot.press("s")
        await until(pilot, lambda: app.return_value is not None)
    assert app.return_value == 130
    runs = L.Ledger.open(paths[0]).runs()
    assert {r.state for r in runs} == {RunState.CANCELLED}


async def test_a_failed_run_shows_its_traceback(start: Callable[..., list[Path]]) -> None:
    paths = start("uifail", "fail", {"seed": [3]})
    app = SlcApp(paths)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: labels(app).get("uifail_s3", "").startswith("✘"))
        assert "ValueError" in labels(app)["uifail_s3"]
        app.screen.query_one(VariantTree).select_data(RunNode((0, "uifail_s3")))
        log = app.screen.query_one(LogView)
        await until(pilot, lambda: any(x.startswith("Traceback") for x in log.lines))
        first = next(i for i, x in enumerate(log.lines) if x.startswith("Traceback"))
        assert log.scroll_y <= first < log.scroll_y + log.scrollable_content_region.height
        await pilot.press("q")
        await until(pilot, lambda: app.return_value is not None)
    assert app.return_value == 1


@pytest.fixture
def finished_sweep(in_tmp: Path) -> Path:
    """A sweep run to its end by another process (``slc-tui GRID --no-ui``)."""
    grid = write_grid(in_tmp / "g.toml", "uiattach", "work", "seed = [0, 1]\nsecs = 0.1")
    done = subprocess.run([*cli(str(grid), "--no-ui"), "--max-cpus", "2"], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    return in_tmp


async def test_attach_shows_a_sweep_run_by_another_process(finished_sweep: Path) -> None:
    in_tmp = finished_sweep
    app = SlcApp([L.ledger_path(in_tmp / "data", "uiattach")])
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(labels(app)) == 2)
        assert all(t.startswith("✔") for t in labels(app).values())
        status = app.screen.query_one("#status").render().plain
        assert "2 done" in status and "finished" in status
        await pilot.press("q")
        await until(pilot, lambda: app.return_value is not None)
    assert app.return_value == 0


@pytest.fixture
def failed_sweep(in_tmp: Path) -> Path:
    """A sweep that ended with run s1 failed; the cause is gone now. Its ledger's path."""
    grid = write_grid(in_tmp / "g.toml", "uirevive", "fail_if_file", "seed = [0, 1]")
    Path("bad_seed_1").touch()
    done = subprocess.run([*cli(str(grid), "--no-ui")], capture_output=True)
    assert done.returncode == 1
    Path("bad_seed_1").unlink()
    return L.ledger_path(in_tmp / "data", "uirevive")


async def test_rerun_on_a_finished_sweep_starts_an_engine_again(failed_sweep: Path) -> None:
    path = failed_sweep
    app = SlcApp([path])
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: labels(app).get("uirevive_s1", "").startswith("✘"))
        app.screen.query_one(VariantTree).select_data(RunNode((0, "uirevive_s1")))
        await until(pilot, lambda: app.screen.selected == RunNode((0, "uirevive_s1")))
        await pilot.press("r")
        await until(pilot, lambda: state(app, "uirevive_s1") == "succeeded")
        assert app.model.runs[(0, "uirevive_s1")].attempt == 2
        assert app.model.runs[(0, "uirevive_s0")].attempt == 1
        await pilot.press("q")
        await until(pilot, lambda: app.return_value is not None)
    ledger = L.Ledger.open(path)
    ledger.send("stop_all")  # the revived engine lingers while its viewer (this process) lives

    wait_for(lambda: not engine_alive(ledger.meta()), what="the revived engine to end")
