"""The sweep layer: one preparation, one claim per grid, the read model, the error words."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from engine_helpers import cli, make_plan, write_grid

from slc_tui.engine.ledger import Ledger, RunRecord, ledger_path
from slc_tui.errors import SlcError, SweepError
from slc_tui.options import RunOptions
from slc_tui.run_utils import ExperimentGrid
from slc_tui.states import EngineStatus, Resume, RunState, Verb
from slc_tui.sweep.lifecycle import SweepHandle, start_background
from slc_tui.sweep.prepare import from_files, from_plans
from slc_tui.sweep.state import SweepState

pytestmark = pytest.mark.usefixtures("no_leftovers")
TESTS = Path(__file__).parent


def test_states_are_their_words() -> None:
    assert f"{RunState.RUNNING}" == str(RunState.RUNNING) == "running" == RunState.RUNNING
    assert f"{RunState.LOST:>6}" == "  lost"
    assert Resume.of(True) is Resume.FAILED and Resume.of(False) is Resume.ALL
    assert Resume.of(Resume.KEEP) is Resume.KEEP


def test_an_unknown_run_option_names_the_nearest_one(in_tmp: Path) -> None:
    grid = ExperimentGrid("typo")
    grid.add("seed", 0)
    with pytest.raises(TypeError, match="unknown run option 'retires'; did you mean 'retries'"):
        grid.run("engine_thunks:work", data_dir="data", retires=2)
    assert not Path("data").exists()
    with pytest.raises(SlcError, match="did you mean 'max_cpus'"):
        RunOptions().override(max_cpu=2)


def test_python_callers_get_keyword_advice_and_the_shell_gets_flags(in_tmp: Path) -> None:
    grid = ExperimentGrid("big")
    grid.add("seed", 0)
    with pytest.raises(SweepError) as err:
        grid.run("engine_thunks:work", num_cpu=3, data_dir="data", max_cpus=2)
    words = str(err.value)
    assert "needs 3 CPUs but the CPU budget is 2" in words
    assert "max_cpus=" in words and "--max-cpus" not in words
    assert "--max-cpus" in err.value.for_cli()
    file = write_grid(in_tmp / "big.toml", "big", "work", "seed = 0", "num_cpu = 3")
    res = subprocess.run(cli(str(file), "--no-ui", "--max-cpus", "2"), capture_output=True,
                         text=True, stdin=subprocess.DEVNULL)  # fmt: skip
    assert res.returncode == 2 and "raise --max-cpus" in res.stderr
    assert "max_cpus=" not in res.stderr


def test_a_second_start_of_a_running_sweep_is_refused_by_its_claim(in_tmp: Path) -> None:
    plan = make_plan("twice", "hang", {"seed": [0]})
    sweep = from_plans([plan], RunOptions(max_cpus=2))
    handle, _ = start_background(sweep)
    try:
        with pytest.raises(SweepError, match="'twice' is already running"):
            start_background(from_plans([make_plan("twice", "hang", {"seed": [0]})], sweep.options))
        assert handle.alive()
    finally:
        line = handle.stop(timeout=30)
    assert line.startswith("twice: stopped; 1 cancelled")
    assert (handle.process is not None and handle.process.wait(30) == 0) or True


def test_the_read_model_shows_the_runs_of_a_dead_engine_lost(in_tmp: Path) -> None:
    path = ledger_path(in_tmp / "data", "dead")
    ledger = Ledger.create(path)
    ledger.add_runs([RunRecord("dead_s0", 0, "dead", "dead", 0, {}, "out", 1)])
    ledger.update("dead_s0", state=RunState.RUNNING, pid=1)
    ledger.set_meta(grid_name="dead", engine_token="1:0", status=EngineStatus.RUNNING)
    state = SweepState.open([path])
    state.poll()
    (run,) = state.records()
    assert (run.state, run.reason) == (RunState.LOST, "its engine ended")
    assert state.engine_words(0) == "gone (it ended without finishing)"
    assert state.exit_status() == 1
    state.close()
    assert Ledger.open(path).run("dead_s0").state == RunState.RUNNING  # a view never writes


def test_commands_are_typed_and_unknown_verbs_are_dropped(in_tmp: Path) -> None:
    ledger = Ledger.create(ledger_path(in_tmp / "data", "cmd"))
    ledger.send(Verb.RERUN, "cmd_s0")
    ledger.send("pause")  # type: ignore[arg-type]  # text from an older view still works
    ledger._conn.execute("INSERT INTO commands (ts, verb) VALUES (0, 'explode')")
    taken = ledger.take_commands()
    assert [(c.verb, c.target) for c in taken] == [(Verb.RERUN, "cmd_s0"), (Verb.PAUSE, None)]
    with pytest.raises(ValueError):
        ledger.send("explode")  # type: ignore[arg-type]


def test_grid_files_are_prepared_once_with_the_flags_over_their_run_table(in_tmp: Path) -> None:
    file = write_grid(in_tmp / "g.toml", "g", "work", "seed = [0, 1]", "[run]\nretries = 1\n")
    sweep = from_files([str(file)], {"retries": 3, "timeout": None, "max_cpus": 1})
    assert sweep.options.retries == 3 and sweep.options.max_cpus == 1
    assert [r.options.retries for r in sweep.plans[0].runs] == [3, 3]
    assert len(sweep.budget) == 1
    assert sweep.ledger_paths == [ledger_path(Path("data").resolve(), "g")]
    assert not Path("data").exists()  # preparing writes nothing


def test_revive_needs_a_grid_file(in_tmp: Path) -> None:
    grid = ExperimentGrid("py")
    grid.add("seed", 0)
    grid.add("secs", 0.01)
    grid.run("engine_thunks:work", data_dir="data", max_cpus=1)
    handle = SweepHandle([ledger_path(Path("data").resolve(), "py")])
    assert not handle.alive()
    assert handle.revive() is False  # started from Python: nothing to restart from
    state = handle.state()
    assert state.records()[0].state == RunState.SUCCEEDED
    state.close()


def test_run_with_ui_and_no_terminal_runs_headless_and_says_so(in_tmp: Path) -> None:
    code = (
        "from slc_tui.run_utils import ExperimentGrid\n"
        "g = ExperimentGrid('noterm'); g.add('seed', [0, 1]); g.add('secs', 0.01)\n"
        "g.run('engine_thunks:work', data_dir='data', max_cpus=2, ui=True)\n"
        "print('returned')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(TESTS)})  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "no terminal: running headless (ui=False)" in res.stderr
    assert "2 runs: 2 succeeded" in res.stdout and "returned" in res.stdout
    assert "\x1b[" not in res.stdout + res.stderr  # no dashboard drew into the pipes
