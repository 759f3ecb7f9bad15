"""The engine with real subprocesses: packing, pinning, MPI, states, retries, timeout, commands.

What only real processes show; the loop's logic over a scripted backend is in test_engine_loop.py.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from engine_helpers import (
    cli,
    ledger,
    make_plan,
    most_at_once,
    run_plans,
    times,
    wait_for,
    write_grid,
)
from engine_thunks import raised_at

from slc_tui.engine.claim import engine_alive
from slc_tui.engine.events import Event
from slc_tui.errors import SweepError
from slc_tui.options import RunOptions
from slc_tui.run_utils import ExperimentGrid, ExperimentsFailed
from slc_tui.states import EventKind, Resume, RunState
from slc_tui.sweep.lifecycle import SweepHandle, start_background
from slc_tui.sweep.prepare import from_plans

pytestmark = pytest.mark.usefixtures("no_leftovers")


def test_runs_pack_into_the_budget_and_overlap_when_they_fit() -> None:
    plan = make_plan("pack", "work", {"seed": [0, 1, 2, 3], "secs": 0.6})
    status, _, _ = run_plans(plan, max_cpus=2)
    assert status == 0
    spans = [(times(r.output_dir)["start"], times(r.output_dir)["end"]) for r in plan.runs]
    assert most_at_once(spans) == 2  # two at a time, never three


def test_a_budget_of_one_runs_one_at_a_time() -> None:
    plan = make_plan("one", "work", {"seed": [0, 1, 2], "secs": 0.3})
    status, _, _ = run_plans(plan, max_cpus=1)
    assert status == 0
    spans = [(times(r.output_dir)["start"], times(r.output_dir)["end"]) for r in plan.runs]
    assert most_at_once(spans) == 1


def test_runs_are_pinned_to_disjoint_cores() -> None:
    plan = make_plan("pin", "work", {"seed": [0, 1], "secs": 0.6})
    run_plans(plan, max_cpus=2)
    cpus = [times(r.output_dir)["cpus"] for r in plan.runs]
    assert all(len(c) == 1 for c in cpus)
    assert cpus[0] != cpus[1]
    records = {r.name: r for r in ledger("pin").runs()}
    assert {records[r.name].cores for r in plan.runs} == {str(cpus[0][0]), str(cpus[1][0])}


def test_an_mpi_run_has_two_ranks_on_their_own_cores() -> None:
    plan = make_plan("mpi", "work", {"seed": 0, "secs": 0.2}, num_cpu=2)
    status, _, _ = run_plans(plan, max_cpus=2)
    assert status == 0
    out = plan.runs[0].output_dir
    r0, r1 = times(out, 0), times(out, 1)
    assert (r0["size"], r0["in_mpi"], r0["omp"]) == ("2", "1", "1")
    assert r0["cpus"] != r1["cpus"]
    assert ledger("mpi").runs()[0].cores == "0,1"


def test_a_failing_rank_ends_the_whole_run_promptly() -> None:
    plan = make_plan("rank", "mpi_fail_rank1", {"seed": 0}, num_cpu=2)
    status, _, _ = run_plans(plan, max_cpus=2)
    assert status == 1
    run = ledger("rank").runs()[0]
    assert run.state == RunState.FAILED
    assert run.reason == (
        f"MPI rank 1 raised ValueError: rank one broke (at {raised_at('mpi_fail_rank1')})"
    )


def test_failure_success_and_signal_are_recorded_with_reasons() -> None:
    plans = [
        make_plan("bad", "fail", {"seed": 3}),
        make_plan("quiet", "nothing", {"seed": 0}),
        make_plan("killed", "self_kill", {"seed": 0}),
    ]
    status, _, events = run_plans(*plans, max_cpus=2)
    assert status == 1
    bad = ledger("bad").runs()[0]
    assert (bad.state, bad.exit_code) == (RunState.FAILED, 1)
    assert bad.reason == f"ValueError: bad hyperparameter for seed 3 (at {raised_at('fail')})"
    assert "about to fail" in bad.tail
    assert "about to fail" in Path(bad.output_dir, "output.log").read_text()
    assert ledger("quiet").runs()[0].state == RunState.SUCCEEDED
    killed = ledger("killed").runs()[0]
    assert (killed.state, killed.signal) == (RunState.FAILED, 9)
    assert killed.reason.startswith("killed by SIGKILL")
    assert [e.kind for e in events].count(EventKind.STARTED) == 3


def test_progress_is_read_into_the_ledger() -> None:
    plan = make_plan("prog", "work", {"seed": 5, "epochs": 4, "secs": 0.2})
    run_plans(plan)
    run = ledger("prog").runs()[0]
    assert run.epoch == 3
    assert run.metrics["AverageEpRet"] == 45.0


def test_retries_run_a_failed_run_again_and_keep_history() -> None:
    plan = make_plan("flaky", "flaky", {"seed": 0}, retries=1)
    status, _, events = run_plans(plan)
    assert status == 0
    run = ledger("flaky").runs()[0]
    assert (run.state, run.attempt) == (RunState.SUCCEEDED, 2)
    history = ledger("flaky").attempts(run.name)
    assert [(a["attempt"], a["state"]) for a in history] == [
        (1, RunState.FAILED),
        (2, RunState.SUCCEEDED),
    ]
    assert any(e.kind == EventKind.RETRY for e in events)
    assert Path(run.output_dir, "output.1.log").read_text().count("first attempt fails") >= 1


def test_a_timeout_stops_the_run_and_its_children() -> None:
    plan = make_plan("slow", "hang", {"seed": 0}, timeout=1)
    status, _, _ = run_plans(plan)
    assert status == 1
    run = ledger("slow").runs()[0]
    assert (run.state, run.reason) == (RunState.FAILED, "timed out after 1 s")


def test_fail_fast_starts_nothing_after_the_first_failure() -> None:
    grid_bad = make_plan("ff", "fail", {"seed": 0})
    grid_ok = make_plan("ff2", "work", {"seed": [1, 2, 3], "secs": 0.05})
    status, _, _ = run_plans(grid_bad, grid_ok, max_cpus=1, fail_fast=True)
    assert status == 1
    assert ledger("ff").runs()[0].state == RunState.FAILED
    rest = ledger("ff2").runs()
    assert {r.state for r in rest} == {RunState.CANCELLED}
    assert rest[0].reason == "not started: fail-fast"


def test_resume_reruns_only_what_did_not_succeed(in_tmp: Path) -> None:
    Path("bad_seed_10").touch()
    plan = make_plan("res", "fail_if_file", {"seed": [0, 10]})
    assert run_plans(plan)[0] == 1
    first = times(plan.runs[0].output_dir)
    Path("bad_seed_10").unlink()
    plan = make_plan("res", "fail_if_file", {"seed": [0, 10]})
    assert run_plans(plan, resume=True)[0] == 0
    runs = {r.name: r for r in ledger("res").runs()}
    assert runs["res_s0"].attempt == 1  # not run again
    assert times(plan.runs[0].output_dir) == first
    assert (runs["res_s10"].state, runs["res_s10"].attempt) == (RunState.SUCCEEDED, 2)
    assert [a["state"] for a in ledger("res").attempts("res_s10")] == [
        RunState.FAILED,
        RunState.SUCCEEDED,
    ]


def test_resume_runs_only_new_variants() -> None:
    run_plans(make_plan("grow", "work", {"seed": [0], "secs": 0.05}))
    _, _, events = run_plans(make_plan("grow", "work", {"seed": [0, 7], "secs": 0.05}), resume=True)
    started = [e.run.name for e in events if e.kind == EventKind.STARTED and e.run]
    assert started == ["grow_s7"]


def test_a_run_without_resume_runs_everything_again() -> None:
    run_plans(make_plan("again", "work", {"seed": [0], "secs": 0.05}))
    _, _, events = run_plans(make_plan("again", "work", {"seed": [0], "secs": 0.05}))
    assert [e.run.name for e in events if e.kind == EventKind.STARTED and e.run] == ["again_s0"]
    assert ledger("again").runs()[0].attempt == 2


def test_a_run_larger_than_the_budget_is_refused_before_anything_runs() -> None:
    plan = make_plan("big", "work", {"seed": 0}, num_cpu=3)
    with pytest.raises(SweepError, match="needs 3 CPUs but the CPU budget is 2"):
        run_plans(plan, max_cpus=2)
    assert not Path("data").exists()


def test_oversubscribe_lets_a_large_run_take_the_whole_budget() -> None:
    plan = make_plan("over", "work", {"seed": 0, "secs": 0.05}, num_cpu=3, oversubscribe=True)
    status, _, _ = run_plans(plan, max_cpus=2)
    assert status == 0
    assert len(list(Path(plan.runs[0].output_dir).glob("times.*.json"))) == 3


def test_stop_commands_cancel_running_and_pending_runs() -> None:
    plan = make_plan("stop", "hang", {"seed": [0, 1, 2]})

    def on_event(event: Event) -> None:  # a view in another process sends the same commands
        if event.kind == EventKind.STARTED and event.run and event.run.name == "stop_s0":
            ledger("stop").send("stop", "stop_s0")
            ledger("stop").send("stop", "stop_s2")  # still pending: cancelled, never started
        elif event.kind == EventKind.STARTED and event.run and event.run.name == "stop_s1":
            ledger("stop").send("stop", "stop_s1")

    status, _, _ = run_plans(plan, max_cpus=1, listeners=[on_event])
    assert status == 1
    runs = {r.name: r for r in ledger("stop").runs()}
    assert {r.state for r in runs.values()} == {RunState.CANCELLED}
    assert runs["stop_s0"].reason == "stopped by the user"
    assert (runs["stop_s1"].attempt, runs["stop_s2"].attempt) == (1, 0)


def test_pause_holds_new_runs_until_resume() -> None:
    plan = make_plan("pause", "work", {"seed": [0, 1], "secs": 0.05})
    engine = from_plans([plan], RunOptions(max_cpus=2)).engine(Resume.ALL)
    engine.prepare()
    ledger("pause").send("pause")
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(engine.run()))
    thread.start()
    wait_for(lambda: ledger("pause").meta().get("paused"), what="the engine to pause")
    time.sleep(0.5)
    assert {r.state for r in ledger("pause").runs()} == {RunState.PENDING}
    ledger("pause").send("resume")
    thread.join(30)
    assert result == [0]
    assert {r.state for r in ledger("pause").runs()} == {RunState.SUCCEEDED}


def test_experiment_grid_run_uses_the_engine_and_lists_failures(capsys) -> None:
    grid = ExperimentGrid("api")
    grid.add("seed", [0, 1])
    with pytest.raises(ExperimentsFailed) as err:
        grid.run("engine_thunks:fail", data_dir="data", max_cpus=2)
    assert "api_s0: failed: ValueError: bad hyperparameter for seed 0" in str(err.value)
    assert "api_s1" in str(err.value)
    out = capsys.readouterr().out
    assert "api_s0  failed" in out and "2 runs: 2 failed" in out


def test_experiment_grid_run_with_a_callable_thunk(in_tmp: Path) -> None:
    grid = ExperimentGrid("call")
    grid.add("seed", [0, 1])
    grid.add("secs", 0.05)
    marker = in_tmp / "calls"

    def train(seed: int, logger_kwargs: dict, secs: float) -> None:  # a closure: cloudpickled
        os.makedirs(logger_kwargs["output_dir"], exist_ok=True)
        with open(marker, "a") as f:
            f.write(f"{seed}\n")

    grid.run(train, data_dir="data", max_cpus=2)
    assert sorted(marker.read_text().split()) == ["0", "1"]


def test_a_revived_engine_runs_only_what_a_view_queued(in_tmp: Path) -> None:
    grid_file = write_grid(in_tmp / "rv.toml", "rv", "fail_if_file", "seed = [0, 1]")
    Path("bad_seed_1").touch()
    assert subprocess.run(cli(str(grid_file), "--no-ui")).returncode == 1
    Path("bad_seed_1").unlink()
    view = ledger("rv")
    view.send("rerun", "rv_s1")
    assert SweepHandle([view.path]).revive()
    wait_for(lambda: ledger("rv").run("rv_s1").state == RunState.SUCCEEDED, what="the rerun")
    runs = {r.name: r for r in ledger("rv").runs()}
    assert (runs["rv_s0"].attempt, runs["rv_s1"].attempt) == (1, 2)
    assert not SweepHandle(
        [view.path]
    ).revive()  # an engine runs (it lingers while this test process lives)
    view.send("stop_all")
    wait_for(lambda: not engine_alive(ledger("rv").meta()), what="the engine to end")


def test_a_background_engine_imports_what_its_caller_can() -> None:
    plan = make_plan("bg", "work", {"seed": [0, 1], "secs": 0.05})  # engine_thunks: tests/ only
    handle, _ = start_background(from_plans([plan], RunOptions(max_cpus=2)))
    proc = handle.process
    assert proc is not None
    view = ledger("bg")
    wait_for(lambda: {r.state for r in view.runs()} == {RunState.SUCCEEDED}, what="both runs")
    view.send("stop_all")  # it lingers while this process lives
    assert proc.wait(30) == 0
    assert not list(Path("data/.slc-tui").glob("engine-*.pkl"))  # the spec file is gone


def test_payloads_and_the_ledger_are_private_to_the_user() -> None:
    plan = make_plan("priv", "work", {"seed": 0, "secs": 0.05})
    modes: list[int] = []

    def on_event(event: Event) -> None:
        if event.kind == EventKind.STARTED:
            payload = Path("data/.slc-tui/priv/payloads/priv_s0.pkl")
            modes.append(payload.stat().st_mode & 0o777)

    run_plans(plan, listeners=[on_event])
    assert modes == [0o600]
    assert Path("data/.slc-tui/priv.db").stat().st_mode & 0o077 == 0
    assert Path("data/.slc-tui").stat().st_mode & 0o077 == 0
    assert not Path("data/.slc-tui/priv/payloads/priv_s0.pkl").exists()  # removed after the run


def test_a_new_attempt_starts_with_no_old_metrics_or_log() -> None:
    run_plans(make_plan("fresh", "work", {"seed": 0, "epochs": 3, "secs": 0.05}))
    seen: list[tuple[int | None, dict]] = []

    def on_event(event: Event) -> None:
        if event.kind in (EventKind.STARTED, EventKind.PROGRESS) and event.run:
            seen.append((event.run.epoch, dict(event.run.metrics)))

    plan = make_plan("fresh", "work", {"seed": 0, "epochs": 3, "secs": 0.6})
    run_plans(plan, listeners=[on_event])
    assert seen[0] == (None, {})  # nothing of attempt 1 when attempt 2 starts
    out = Path(plan.runs[0].output_dir)
    assert len(out.joinpath("progress.1.txt").read_text().splitlines()) == 4
    assert out.joinpath("output.1.log").read_text() == "done seed=0\n"
    assert len(out.joinpath("progress.txt").read_text().splitlines()) == 4


def test_resume_reruns_a_run_whose_hyperparameters_changed() -> None:
    run_plans(make_plan("chg", "work", {"seed": [0, 1], "secs": 0.05, "epochs": 2}))
    _, _, events = run_plans(
        make_plan("chg", "work", {"seed": [0, 1], "secs": 0.05, "epochs": 3}), resume=True
    )
    assert sorted(e.run.name for e in events if e.kind == EventKind.STARTED and e.run) == [
        "chg_s0",
        "chg_s1",
    ]
    assert {r.params["epochs"] for r in ledger("chg").runs()} == {3}
    _, _, events = run_plans(
        make_plan("chg", "work", {"seed": [0, 1], "secs": 0.05, "epochs": 3}), resume=True
    )
    assert not [e for e in events if e.kind == EventKind.STARTED]


def test_retries_count_this_sweeps_attempts_not_earlier_ones() -> None:
    run_plans(make_plan("again2", "fail", {"seed": 0}))
    run_plans(make_plan("again2", "fail", {"seed": 0}))
    _, _, events = run_plans(make_plan("again2", "fail", {"seed": 0}, retries=1))
    assert [e.run.attempt for e in events if e.kind == EventKind.STARTED and e.run] == [3, 4]


def test_two_grid_files_may_not_share_a_ledger(in_tmp: Path) -> None:
    one = write_grid(in_tmp / "one.toml", "same", "nothing", "seed = 0")
    two = write_grid(in_tmp / "two.toml", "same", "nothing", "seed = 1")
    assert subprocess.run(cli(str(one), "--no-ui"), capture_output=True).returncode == 0
    res = subprocess.run(cli(str(two), "--no-ui"), capture_output=True, text=True)
    assert res.returncode == 2
    assert f"are also those of {one}" in res.stderr


def test_datestamped_runs_get_new_folders_unless_resumed(monkeypatch: pytest.MonkeyPatch) -> None:
    import slc_tui.experiment as ru

    stamps = iter(["2026-01-01_00-00-01", "2026-01-01_00-00-02", "2026-01-01_00-00-03"])
    now = {"t": ""}

    def strftime(fmt: str, *_a: object) -> str:
        return now["t"][:10] if fmt == "%Y-%m-%d" else now["t"]

    monkeypatch.setattr(ru.time, "strftime", strftime)
    folders = []
    for resume in (False, False, True):
        now["t"] = next(stamps)
        plan = make_plan("ds", "fail_if_file", {"seed": 0}, datestamp=True)
        run_plans(plan, resume=resume)
        folders.append(ledger("ds").runs()[0].output_dir)
    assert folders[0] != folders[1]  # a new launch: a new dated folder, as the reference
    assert folders[2] == folders[1]  # --resume keeps the folder of the run it continues
