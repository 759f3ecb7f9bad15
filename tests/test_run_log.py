"""A run's log and the folder its logger makes: no warning the reference would not print.

The reference's loggers (SpinningUp's, stable-learning-control's, slc_tui.logx) warn "Log dir
... already exists!" when the run's folder exists as they start. A fresh run's log therefore
starts beside the folder; rank 0 moves it in once the logger has made the folder, and at the
latest when the thunk ends; the engine, when no rank could. Reruns log into their folder (and
warn, as the reference would).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import THUNKS, cli, ledger, make_plan, run_plans, wait_for, write_grid
from textual.app import App, ComposeResult
from ui_fixtures import until

from slc_tui.engine.rundir import (
    beside_log,
    log_env,
    log_path,
    payload_path,
    prepare_attempt,
    settle_log,
)
from slc_tui.options import RunOptions
from slc_tui.plan import plan_grid
from slc_tui.procid import LOG_ENV, LOG_TO_ENV
from slc_tui.run_utils import ExperimentGrid
from slc_tui.states import RunState
from slc_tui.sweep.fmt import rerun_notice
from slc_tui.sweep.lifecycle import start_background
from slc_tui.sweep.prepare import from_plans
from slc_tui.ui.app import SlcApp
from slc_tui.ui.log_view import LogView
from slc_tui.ui.nodes import RunNode
from slc_tui.ui.variant_tree import VariantTree

pytestmark = pytest.mark.usefixtures("no_leftovers")
WARNING = "already exists"


def _seen(output_dir: str) -> dict[str, Any]:
    """What the thunk noted while it ran: whether its log was in its folder, and when."""
    return json.loads(Path(output_dir, "seen.json").read_text())  # type: ignore[no-any-return]


def _touch(path: Path) -> None:
    path.write_text("")


def _hidden(output_dir: str) -> list[str]:
    """Files left beside the run's folder (a log that did not move)."""
    return [p.name for p in Path(output_dir).parent.iterdir() if p.name.startswith(".")]


def test_a_fresh_run_of_a_spinningup_style_logger_does_not_warn() -> None:
    plan = make_plan("fresh", "spinup_logger", {"seed": [0, 1]})
    assert run_plans(plan, max_cpus=2)[0] == 0
    for run in plan.runs:
        log = Path(run.output_dir, "output.log").read_text()
        assert WARNING not in log, log
        assert log.splitlines()[0] == "before the folder"  # written beside, then moved in
        assert log.count("after the folder") == 1
        assert _seen(run.output_dir)["in_folder"]  # in the folder while the run ran
        assert _seen(run.output_dir)["after"] < 2.0
        assert _hidden(run.output_dir) == []


@pytest.mark.parametrize("num_cpu", [1, 2])
def test_slc_tui_s_epoch_logger_does_not_warn_on_a_fresh_run(num_cpu: int) -> None:
    plan = make_plan(f"logx{num_cpu}", "logx_train", {"seed": 0}, num_cpu=num_cpu)
    assert run_plans(plan, max_cpus=2)[0] == 0
    (run,) = plan.runs
    log = Path(run.output_dir, "output.log").read_text()
    assert WARNING not in log and log.count("Logging data to") == 1, log  # rank 0 only
    assert _seen(run.output_dir)["in_folder"]
    assert len(Path(run.output_dir, "progress.txt").read_text().splitlines()) == 4
    assert _hidden(run.output_dir) == []


def test_a_rerun_warns_as_the_reference_would() -> None:
    plan = make_plan("again", "spinup_logger", {"seed": 0})
    assert run_plans(plan)[0] == 0
    assert run_plans(plan)[0] == 0  # no --resume: the run runs again, in its folder
    out = Path(plan.runs[0].output_dir)
    assert WARNING in (out / "output.log").read_text()
    assert WARNING not in (out / "output.1.log").read_text()
    assert (out / "progress.1.txt").exists()


def test_a_run_that_makes_no_folder_has_its_log_there_once_it_ends() -> None:
    plan = make_plan("nofolder", "print_only", {"seed": [0, 1]}, num_cpu=1)
    mpi = make_plan("nofoldermpi", "print_only", {"seed": 0}, num_cpu=2)
    assert run_plans(plan, mpi, max_cpus=2)[0] == 0
    for run in [*plan.runs, *mpi.runs]:
        log = Path(run.output_dir, "output.log").read_text()
        assert f"no folder for seed {run.params['seed']}" in log
        assert _hidden(run.output_dir) == []
    assert ledger("nofolder").runs()[0].tail.startswith("no folder for seed")


def test_a_failed_fresh_run_keeps_its_log_in_its_folder() -> None:
    plan = make_plan("failfresh", "fail", {"seed": 1})
    assert run_plans(plan)[0] == 1
    out = plan.runs[0].output_dir
    assert "Traceback" in Path(out, "output.log").read_text()
    assert _hidden(out) == []


# -- the places of the log, without processes --------------------------------------------------
def _run(name: str = "unit") -> Any:
    return make_plan(name, "nothing", {"seed": 0}).runs[0]


def test_a_fresh_attempt_logs_beside_its_folder_and_does_not_make_it(in_tmp: Path) -> None:
    run = _run()
    prepare_attempt(run, 1, payload_path("data", run), "data")
    beside = beside_log(run.output_dir)
    assert not os.path.lexists(run.output_dir) and beside.is_file()
    assert beside.name == ".unit_s0.output.log" and beside.parent == Path(run.output_dir).parent
    assert log_path(run.output_dir) == beside
    assert log_env(run.output_dir) == {
        LOG_ENV: os.path.abspath(beside),
        LOG_TO_ENV: os.path.abspath(Path(run.output_dir, "output.log")),
    }
    beside.write_text("moving\n")
    os.makedirs(run.output_dir)
    os.rename(beside, Path(run.output_dir, "output.log"))
    assert log_path(run.output_dir) == Path(run.output_dir, "output.log")
    assert log_env(run.output_dir) == {}  # a folder that exists: the log goes into it


def test_a_log_left_beside_by_a_dead_engine_is_kept_as_an_earlier_attempt(in_tmp: Path) -> None:
    run = _run("left")
    prepare_attempt(run, 1, payload_path("data", run), "data")
    beside_log(run.output_dir).write_text("attempt one\n")  # its engine was SIGKILLed
    prepare_attempt(run, 2, payload_path("data", run), "data")
    out = Path(run.output_dir)
    assert (out / "output.1.log").read_text() == "attempt one\n"
    assert (out / "output.log").read_text() == ""
    assert not beside_log(run.output_dir).exists()


def test_settling_never_overwrites_a_log_in_the_folder(in_tmp: Path) -> None:
    run = _run("both")
    os.makedirs(run.output_dir)
    Path(run.output_dir, "output.log").write_text("the thunk's own\n")
    beside_log(run.output_dir).write_text("ours\n")
    settle_log(run.output_dir)
    assert Path(run.output_dir, "output.log").read_text() == "the thunk's own\n"


def test_a_folder_name_too_long_for_a_beside_name_gets_a_short_one(tmp_path: Path) -> None:
    folder = tmp_path / ("x" * 250)
    name = beside_log(folder).name
    assert name.startswith(".slc-tui-") and name.endswith(".output.log") and len(name) < 60
    assert beside_log(folder) == beside_log(folder)


# -- the file the notice names -------------------------------------------------------------------
def test_the_rerun_notice_names_the_progress_file_the_runs_write(in_tmp: Path) -> None:
    grid = write_grid(in_tmp / "csv.toml", "csv", "spinup_logger", "seed = [0, 1]\ncsv = true")
    first = subprocess.run(cli(str(grid), "--no-ui"), capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    again = subprocess.run(cli(str(grid), "--no-ui"), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "kept as output.N.log / progress.N.csv" in again.stderr, again.stderr
    assert "progress.N.txt" not in again.stderr
    for seed in (0, 1):
        out = in_tmp / "data" / "csv" / f"csv_s{seed}"
        assert (out / "progress.1.csv").exists() and (out / "output.1.log").exists()
        assert not (out / "progress.1.txt").exists()


def test_the_rerun_notice_words() -> None:
    assert "kept as output.N.log / progress.N.txt)" in rerun_notice("g", 2, "progress.txt")
    assert "kept as output.N.log / progress.N.csv)" in rerun_notice("g", 2, "progress.csv")
    assert "kept as output.N.log)" in rerun_notice("g", 2)


# -- the dashboard follows the log as it moves ------------------------------------------------
def _move_and_write(beside: Path, final: Path, text: str) -> None:
    """Move the log into its folder as rank 0 does, and write on."""
    final.parent.mkdir()
    os.rename(beside, final)
    with open(final, "a") as f:
        f.write(text)


class _OneLog(App[None]):
    def compose(self) -> ComposeResult:
        yield LogView()


async def test_the_log_view_reads_on_where_the_log_moved(tmp_path: Path) -> None:
    final, beside = tmp_path / "run" / "output.log", tmp_path / ".run.output.log"
    beside.write_text("one\n")
    app = _OneLog()
    async with app.run_test():
        view = app.query_one(LogView)
        view.show(final, "no output yet", beside=beside)
        assert list(view.lines) == ["one"]
        _move_and_write(beside, final, "two\n")
        view.poll()
        assert list(view.lines) == ["one", "two"]


@pytest.mark.slow
async def test_the_dashboard_follows_a_real_run_s_log_into_its_folder(in_tmp: Path) -> None:
    go = in_tmp / "go"
    grid = ExperimentGrid("moving")
    grid.add("seed", 0)
    grid.add("go", str(go))
    plan = plan_grid(grid, f"{THUNKS}:spinup_logger", data_dir="data", options=RunOptions())
    handle, _ = start_background(from_plans([plan], RunOptions(max_cpus=1)))
    out = plan.runs[0].output_dir
    try:
        app = SlcApp(handle.paths)
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: (0, plan.runs[0].name) in app.model.runs)
            app.screen.query_one(VariantTree).select_data(RunNode((0, plan.runs[0].name)))
            view = app.screen.query_one(LogView)
            await until(pilot, lambda: "before the folder" in view.lines)
            assert _hidden(out) == [beside_log(out).name]  # beside the folder, not in it
            _touch(go)
            await until(pilot, lambda: "after the folder" in view.lines)
            assert list(view.lines).count("before the folder") == 1
            assert WARNING not in "\n".join(view.lines)
            _touch(Path(f"{go}.end"))
            await until(pilot, lambda: app.model.runs[(0, plan.runs[0].name)].state == "succeeded")
    finally:
        handle.stop(timeout=30)
    wait_for(lambda: _hidden(out) == [], what="no log beside the folder")
    assert ledger("moving").runs()[0].state == RunState.SUCCEEDED
