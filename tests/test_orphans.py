"""No process a run starts outlives it, however it detaches (issue "Airtight").

The thunk ``engine_thunks.detach`` starts a daemon: a session of its own (setsid), a second
fork whose parent leaves at once (so the daemon is an orphan), SIGTERM ignored. Each rank
writes ``pids.<rank>`` (its own pid and its daemon's); the tests wait for that file, never for
a fixed time.
"""

from __future__ import annotations

import signal
import subprocess
import threading
from pathlib import Path

import psutil
import pytest
from conftest import wait_gone
from engine_helpers import THUNKS, cli, ledger, make_plan, run_plans, wait_for, write_grid
from engine_thunks import raised_at

from slc_tui.launch import run_command, run_env
from slc_tui.payload import Payload, write_payload
from slc_tui.procid import ENGINE_ENV, RUN_ENV
from slc_tui.states import RunState
from slc_tui.sweep.lifecycle import start_background
from slc_tui.sweep.prepare import from_files

pytestmark = pytest.mark.usefixtures("no_leftovers")


def _daemons(output_dir: str, ranks: int = 1) -> list[int]:
    """The daemons' pids, once every rank has written its ``pids`` file."""
    found = []
    for rank in range(ranks):
        path = Path(output_dir) / f"pids.{rank}"
        wait_for(path.exists, what=str(path))
        rank_pid, daemon = (int(p) for p in path.read_text().split())
        assert daemon != rank_pid
        found.append(daemon)
    return found


def _running(pids: list[int]) -> list[int]:
    """The pids still running now (zombies count as gone)."""
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.Error:
            continue
    return out


def _headless(grid: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cli(str(grid), "--no-ui", "--max-cpus", "2"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.parametrize(("num_cpu", "then", "hold", "code"),
                         [(1, "return", False, 0), (1, "raise", False, 1), (1, "return", True, 0),
                          (2, "return", True, 0)])  # fmt: skip
def test_the_entrypoint_alone_ends_what_its_thunk_left(
    in_tmp: Path, num_cpu: int, then: str, hold: bool, code: int
) -> None:
    # No engine: only the ranks' own clean-up. A daemon holding the output would make this
    # time out: subprocess.run reads the output to its end, and mpiexec waits for its ranks'.
    out = in_tmp / "out"
    kwargs = {"seed": 0, "logger_kwargs": {"output_dir": str(out)}, "then": then, "hold": hold}
    write_payload(in_tmp / "p.pkl", Payload(f"{THUNKS}:detach", kwargs))
    env = {k: v for k, v in run_env(num_cpu).items() if k not in (ENGINE_ENV, RUN_ENV)}
    done = subprocess.run(run_command(in_tmp / "p.pkl", num_cpu), env=env, timeout=60,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == code, done.stdout + done.stderr
    assert _running(_daemons(str(out), num_cpu)) == []  # at once: the ranks ended them


@pytest.mark.parametrize("num_cpu", [1, 2])
@pytest.mark.parametrize(("then", "state"), [("return", RunState.SUCCEEDED),
                                             ("raise", RunState.FAILED)])  # fmt: skip
def test_a_daemon_is_gone_when_its_run_has_ended(num_cpu: int, then: str, state: RunState) -> None:
    plan = make_plan("ends", "detach", {"seed": 0, "then": then}, num_cpu=num_cpu)
    run_plans(plan, max_cpus=2)
    assert ledger("ends").runs()[0].state == state
    daemons = _daemons(plan.runs[0].output_dir, num_cpu)
    assert _running(daemons) == []  # at once: ended before the run was recorded as ended


@pytest.mark.parametrize("num_cpu", [1, 2])
def test_a_daemon_holding_the_output_does_not_keep_its_run_alive(num_cpu: int) -> None:
    # mpiexec waits for its ranks' stdout to close: without the rank's clean-up the run would
    # last until this timeout and fail.
    plan = make_plan("hold", "detach", {"seed": 0, "hold": True}, num_cpu=num_cpu, timeout=60)
    assert run_plans(plan, max_cpus=2)[0] == 0
    assert ledger("hold").runs()[0].state == RunState.SUCCEEDED
    assert _running(_daemons(plan.runs[0].output_dir, num_cpu)) == []


@pytest.mark.parametrize("num_cpu", [1, 2])
def test_a_stop_from_the_engine_ends_the_daemon(num_cpu: int) -> None:
    plan = make_plan("halt", "detach", {"seed": 0, "then": "hang"}, num_cpu=num_cpu)
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(run_plans(plan, max_cpus=2)[0]))
    thread.start()
    daemons = _daemons(plan.runs[0].output_dir, num_cpu)
    ledger("halt").send("stop", plan.runs[0].name)
    thread.join(60)
    assert result == [1]
    assert ledger("halt").runs()[0].state == RunState.CANCELLED
    assert wait_gone(daemons, timeout=5) == []


@pytest.mark.parametrize("num_cpu", [1, 2])
def test_slc_tui_stop_of_a_background_sweep_ends_the_daemons(in_tmp: Path, num_cpu: int) -> None:
    seeds = "[0, 1]" if num_cpu == 1 else "0"  # the budget of 2 CPUs runs them all at once
    grid = write_grid(in_tmp / "g.toml", "bgstop", "detach", f'seed = {seeds}\nthen = "hang"',
                      f"num_cpu = {num_cpu}")  # fmt: skip
    handle, _ = start_background(from_files([grid], {"max_cpus": 2}))
    runs = wait_for(lambda: ledger("bgstop").runs(), what="the planned runs")
    daemons = [d for r in runs for d in _daemons(r.output_dir, num_cpu)]
    assert len(daemons) == 2
    res = subprocess.run(cli("stop", str(grid)), capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert f"bgstop: stopped; {len(runs)} cancelled" in res.stdout
    assert wait_gone(daemons, timeout=5) == []
    assert handle.process is not None and handle.process.wait(30) == 130  # stopped


@pytest.mark.parametrize("num_cpu", [1, 2])
def test_kill_9_of_the_engine_ends_the_daemons(in_tmp: Path, num_cpu: int) -> None:
    grid = write_grid(in_tmp / "g.toml", "k9d", "detach", 'seed = 0\nthen = "hang"',
                      f"num_cpu = {num_cpu}")  # fmt: skip
    proc = _headless(grid)
    run = wait_for(lambda: ledger("k9d").runs(), what="the planned run")[0]
    daemons = _daemons(run.output_dir, num_cpu)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    assert wait_gone(daemons, timeout=5) == [], "a daemon outlived the engine"


def test_a_rank_killed_by_another_ranks_abort_leaves_no_daemon() -> None:
    # Rank 1 raises: it ends its own daemon, then MPI_Abort SIGKILLs rank 0, which can clean
    # nothing up; the engine ends what rank 0 left.
    plan = make_plan("abort", "detach", {"seed": 0, "then": "fail_rank1"}, num_cpu=2)
    assert run_plans(plan, max_cpus=2)[0] == 1
    run = ledger("abort").runs()[0]
    assert (run.state, run.reason) == (
        RunState.FAILED,
        "MPI rank 1 raised ValueError: rank one broke after detaching "
        f"(at {raised_at('detach', 'rank one broke')})",
    )
    assert _running(_daemons(run.output_dir, 2)) == []  # at once: before the run was recorded
