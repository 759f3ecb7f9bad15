"""Faults of a headless engine run as a real ``slc-tui --no-ui`` process: signals, kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from conftest import wait_gone
from engine_helpers import THUNKS, cli, ledger, wait_for, write_grid

from slc_tui.states import RunState

pytestmark = pytest.mark.usefixtures("no_leftovers")


def _start(grid: Path, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cli(str(grid), "--no-ui", *flags),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _run_pids(grid: str, ranks: int = 1) -> list[int]:
    """Pids of a grid's hanging runs and their grandchildren, from the files the thunk writes."""
    pids: list[int] = []
    wait_for(lambda: Path("data/.slc-tui", f"{grid}.db").exists(), what="the ledger")
    for run in wait_for(lambda: ledger(grid).runs(), what="the planned runs"):
        for rank in range(ranks):
            path = Path(run.output_dir) / f"pids.{rank}"
            wait_for(path.exists, what=str(path))
            pids += [int(p) for p in path.read_text().split()]
    return pids


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_stops_every_run_and_exits_130(in_tmp: Path, sig: int) -> None:
    Path("hang").touch()
    grid = write_grid(in_tmp / "g.toml", "sig", "hang_if_file", "seed = [0, 1]", "num_cpu = 1")
    proc = _start(grid, "--max-cpus", "2")
    pids = _run_pids("sig")
    assert len(pids) == 4  # two runs, each with a grandchild
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, out
    assert wait_gone(pids) == []
    assert {r.state for r in ledger("sig").runs()} == {RunState.CANCELLED}
    assert "2 runs: 2 cancelled" in out


def test_a_signal_stops_every_rank_of_an_mpi_run(in_tmp: Path) -> None:
    Path("hang").touch()
    grid = write_grid(in_tmp / "g.toml", "msig", "hang_if_file", "seed = 0", "num_cpu = 2")
    proc = _start(grid, "--max-cpus", "2")
    pids = _run_pids("msig", ranks=2)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert wait_gone(pids) == []


def test_kill_9_of_the_engine_leaves_no_run_and_resume_reruns_the_lost(in_tmp: Path) -> None:
    Path("hang").touch()
    grid = write_grid(in_tmp / "g.toml", "k9", "hang_if_file", "seed = [0, 1, 2]", "num_cpu = 1")
    proc = _start(grid, "--max-cpus", "2")
    wait_for(
        lambda: sum(r.state == RunState.RUNNING for r in ledger("k9").runs()) == 2, what="2 runs"
    )
    running = [r for r in ledger("k9").runs() if r.state == RunState.RUNNING]
    pids = []
    for run in running:
        path = Path(run.output_dir) / "pids.0"
        wait_for(path.exists, what=str(path))
        pids += [int(p) for p in path.read_text().split()]
    proc.kill()
    proc.communicate(timeout=10)
    assert wait_gone(pids) == [], "runs outlived their engine"

    status = subprocess.run(cli("status", str(grid), "--json"), capture_output=True, text=True)
    doc = json.loads(status.stdout)
    states = {r["name"]: r["state"] for r in doc["runs"]}
    assert states == {"k9_s0": "lost", "k9_s1": "lost", "k9_s2": "pending"}
    assert doc["engine"]["alive"] is False

    Path("hang").unlink()
    done = subprocess.run(cli(str(grid), "--no-ui", "--resume"), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
    runs = {r.name: r for r in ledger("k9").runs()}
    assert {r.state for r in runs.values()} == {RunState.SUCCEEDED}
    assert [a["state"] for a in ledger("k9").attempts("k9_s0")] == [
        RunState.LOST,
        RunState.SUCCEEDED,
    ]
    assert runs["k9_s2"].attempt == 1


def test_kill_9_while_a_run_of_two_ranks_runs_leaves_no_rank(in_tmp: Path) -> None:
    Path("hang").touch()
    grid = write_grid(in_tmp / "g.toml", "k9m", "hang_if_file", "seed = 0", "num_cpu = 2")
    proc = _start(grid, "--max-cpus", "2")
    pids = _run_pids("k9m", ranks=2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    assert wait_gone(pids) == []


def test_slc_tui_stop_ends_a_sweep_running_elsewhere(in_tmp: Path) -> None:
    Path("hang").touch()
    grid = write_grid(in_tmp / "g.toml", "stopme", "hang_if_file", "seed = [0, 1]")
    proc = _start(grid, "--max-cpus", "2")
    pids = _run_pids("stopme")
    res = subprocess.run(cli("stop", str(grid)), capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "stopme: stopped; 2 cancelled" in res.stdout
    assert proc.wait(30) == 130
    proc.communicate()
    assert wait_gone(pids) == []
    again = subprocess.run(cli("stop", str(grid)), capture_output=True, text=True)
    assert "no engine is running; nothing to stop" in again.stdout


def test_status_json_into_a_closed_pipe_is_quiet(in_tmp: Path) -> None:
    grid = write_grid(in_tmp / "g.toml", "pipe", "nothing", "seed = [0, 1, 2]")
    subprocess.run(cli(str(grid), "--no-ui"), capture_output=True)
    res = subprocess.run(f"{' '.join(cli('status', str(grid), '--json'))} | head -1",
                         shell=True, capture_output=True, text=True)  # fmt: skip
    assert res.stdout.strip() == "{"
    assert "Traceback" not in res.stderr


def test_nohup_keeps_a_sweep_alive_through_a_hang_up(in_tmp: Path) -> None:
    grid = write_grid(in_tmp / "g.toml", "nohup", "work", "seed = [0, 1]\nsecs = 1.5")
    proc = subprocess.Popen(
        ["nohup", *cli(str(grid), "--no-ui")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_for(lambda: any(r.state == RunState.RUNNING for r in ledger("nohup").runs()), what="a run")
    proc.send_signal(signal.SIGHUP)  # the terminal went away
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert {r.state for r in ledger("nohup").runs()} == {RunState.SUCCEEDED}


def test_sigterm_names_the_signal_in_the_reason(in_tmp: Path) -> None:
    Path("hang").touch()
    grid = write_grid(in_tmp / "g.toml", "term", "hang_if_file", "seed = 0")
    proc = _start(grid)
    pids = _run_pids("term")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert ledger("term").runs()[0].reason == "interrupted (SIGTERM)"
    assert wait_gone(pids) == []


def test_a_reader_that_leaves_does_not_stop_the_sweep(in_tmp: Path) -> None:
    grid = write_grid(in_tmp / "g.toml", "pipe2", "work", "seed = [0, 1, 2]\nsecs = 0.3")
    res = subprocess.run(f"{' '.join(cli(str(grid), '--no-ui'))} 2>err.txt | head -1; "
                         "echo ${PIPESTATUS[0]}", shell=True, executable="/bin/bash",
                         capture_output=True, text=True)  # fmt: skip
    assert res.stdout.splitlines()[-1] == "0"  # the exit status of slc-tui itself
    assert {r.state for r in ledger("pipe2").runs()} == {RunState.SUCCEEDED}
    assert "Traceback" not in Path("err.txt").read_text()


def test_the_ledger_file_names_a_sweep_started_from_python(in_tmp: Path) -> None:
    from slc_tui.run_utils import ExperimentGrid, ExperimentsFailed

    grid = ExperimentGrid("pyapi")
    grid.add("seed", [0, 1])
    with pytest.raises(ExperimentsFailed):
        grid.run(f"{THUNKS}:fail", data_dir="data")
    db = "data/.slc-tui/pyapi.db"
    res = subprocess.run(cli("status", db), capture_output=True, text=True)
    assert res.returncode == 0 and "2 runs: 2 failed" in res.stdout
    stop = subprocess.run(cli("stop", db), capture_output=True, text=True)
    assert "no engine is running" in stop.stdout
