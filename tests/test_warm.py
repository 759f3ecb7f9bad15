"""The warm launcher (``[run] preload``): a forked run sees what a fresh interpreter sees, the
launcher comes back when it dies, a preload that does not import stops the sweep before
anything runs, and a warm run ends, stops and fails as a cold one does."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import psutil
import pytest
from conftest import wait_gone
from engine_helpers import cli, ledger, make_plan, one_line_error, run_plans, wait_for, write_grid
from engine_thunks import raised_at
from warm_thunks import read_state

from slc_tui.errors import InputError
from slc_tui.launch import ENTRYPOINT
from slc_tui.options import RunOptions
from slc_tui.plan import GridPlan, plan_grid
from slc_tui.run_utils import ExperimentGrid
from slc_tui.states import EventKind, RunState
from slc_tui.sweep.prepare import from_plans

pytestmark = pytest.mark.usefixtures("no_leftovers")
PRELOAD = ("json", "random", "numpy.random")  # numpy 2 imports numpy.random lazily


def state_plan(
    name: str, seeds: int, preload: tuple[str, ...] = PRELOAD, **params: Any
) -> GridPlan:
    grid = ExperimentGrid(name)
    grid.add("seed", list(range(seeds)))
    for key, value in params.items():
        grid.add(key, value)
    return plan_grid(grid, "warm_thunks:state", data_dir="data", datestamp=False,
                     options=RunOptions(preload=preload))  # fmt: skip


def states(plan: GridPlan) -> list[dict[str, Any]]:
    return [read_state(run.output_dir) for run in plan.runs]


def test_a_forked_run_sees_a_fresh_process_and_nothing_of_the_run_before() -> None:
    plan = state_plan("fresh", 3)
    status, engine, _ = run_plans(plan, max_cpus=1)  # one after another, from one launcher
    assert status == 0
    seen = states(plan)
    assert len({s["grandparent"] for s in seen}) == 1  # the same launcher forked all three
    assert len({s["pid"] for s in seen}) == 3
    for run, s in zip(plan.runs, seen):
        assert s["sid"] == s["pgid"] == s["pid"]  # its own session and process group
        assert s["fds"] == [0, 1, 2, 3]  # 3: the listing's own
        assert s["stdin"] == "/dev/null" and s["stderr_is_stdout"]
        assert s["stdout"].endswith("output.log")
        assert s["env"]["SLC_TUI_RUN"] == f"{run.name}:1"
        assert s["env"]["OMP_NUM_THREADS"] == "1"
        assert not s["leftover"] and not s["dirty"]
        assert s["cwd"] == os.getcwd()
        assert s["argv"] == [ENTRYPOINT, str(Path(s["argv"][1]))] and run.name in s["argv"][1]
        assert s["main"] == [ENTRYPOINT, None, None]
        assert len(s["cores"]) == 1 and s["write_through"]
        assert s["signals"] == ["<built-in function default_int_handler>", "<Handlers.SIG_DFL: 0>"]
        assert "forked from the warm launcher" in engine.records[run.name].command
    assert len({s["random"] for s in seen}) == 3  # reseeded after each fork
    assert len({s["numpy"] for s in seen}) == 3


def test_a_forked_run_sees_what_a_cold_run_sees() -> None:
    cold, warm = state_plan("cold", 1, preload=()), state_plan("warm", 1)
    assert run_plans(cold, warm, max_cpus=1)[0] == 0
    (c,), (w,) = states(cold), states(warm)
    for key in ("fds", "stdin", "stderr_is_stdout", "cwd", "path", "main", "write_through",
                "signals", "leftover", "dirty"):  # fmt: skip
        assert c[key] == w[key], key
    assert c["argv"][0] == w["argv"][0] == ENTRYPOINT
    assert c["sid"] == c["pid"] and w["sid"] == w["pid"]
    assert set(c["env"]) == set(w["env"])


def test_a_killed_launcher_is_started_again_and_its_run_still_ends_well() -> None:
    plan = state_plan("again", 3, kill_launcher_at=[0])  # the first run kills its launcher
    status, _, _ = run_plans(plan, max_cpus=1)
    assert status == 0
    assert {r.state for r in ledger("again").runs()} == {RunState.SUCCEEDED}
    seen = states(plan)
    assert seen[1]["grandparent"] == seen[2]["grandparent"] != seen[0]["grandparent"]
    assert not any(psutil.pid_exists(s["grandparent"]) for s in seen)  # both launchers ended


def test_the_launcher_ends_with_the_sweep() -> None:
    plan = state_plan("ends", 1)
    assert run_plans(plan, max_cpus=1)[0] == 0
    (s,) = states(plan)
    assert wait_for(lambda: not psutil.pid_exists(s["grandparent"]), what="the launcher's end")


def test_a_launcher_whose_preload_hangs_ends_with_the_process_that_started_it(
    in_tmp: Path,
) -> None:
    """Killed while the launcher imports a preload that never finishes, slc-tui leaves no
    launcher behind (the kernel ends it: nothing of its own could notice)."""
    Path("hang_mod.py").write_text("import time\ntime.sleep(600)\n")
    grid = write_grid(in_tmp / "g.toml", "hang", "nothing", "seed = [0]",
                      '[run]\npreload = ["hang_mod"]\n')  # fmt: skip
    proc = subprocess.Popen(cli(str(grid), "--no-ui"), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    def launchers() -> list[int]:
        found = []
        for p in psutil.process_iter(["cmdline", "cwd"]):
            if "warm_launcher" in " ".join(p.info["cmdline"] or []) and p.info["cwd"] == str(
                in_tmp
            ):
                found.append(p.pid)
        return found

    (launcher,) = wait_for(launchers, what="the launcher")
    proc.kill()
    proc.wait()
    assert wait_gone([launcher]) == []
    assert not Path("data").exists()  # nothing ran


def test_a_preload_that_does_not_import_is_exit_2_with_one_line(in_tmp: Path) -> None:
    Path("broken_mod.py").write_text("raise ValueError('half written')\n")
    for module, why in (("no_such_module_here", "ModuleNotFoundError"),
                        ("broken_mod", "ValueError: half written")):  # fmt: skip
        grid = write_grid(in_tmp / "g.toml", "pre", "nothing", "seed = [0]",
                          f'[run]\npreload = ["json", "{module}"]\n')  # fmt: skip
        res = subprocess.run(cli(str(grid), "--no-ui"), capture_output=True, text=True)
        line = one_line_error(res)
        assert "g.toml:6: [run] preload:" in line and f"{module}: {why}" in line
        assert not Path("data").exists()  # nothing ran


def test_a_python_caller_gets_the_preload_problem_before_anything_runs() -> None:
    plan = make_plan("py", "nothing", {"seed": 0}, preload=("no_such_module_here",))
    with pytest.raises(InputError, match="preload: cannot be preloaded: no_such_module_here"):
        from_plans([plan], RunOptions(max_cpus=1))
    with pytest.raises(InputError, match="preload"):
        from_plans([plan], RunOptions(max_cpus=1, preload=("not a name",)))


def test_a_warm_run_fails_is_killed_and_times_out_as_a_cold_one() -> None:
    warm = {"preload": ("json",)}
    plans = [
        make_plan("bad", "fail", {"seed": 3}, **warm),
        make_plan("killed", "self_kill", {"seed": 0}, **warm),
        make_plan("slow", "hang", {"seed": 0}, timeout=1, **warm),
    ]
    status, engine, _ = run_plans(*plans, max_cpus=2)
    assert status == 1
    bad = ledger("bad").runs()[0]
    assert (bad.state, bad.exit_code) == (RunState.FAILED, 1)
    assert bad.reason == f"ValueError: bad hyperparameter for seed 3 (at {raised_at('fail')})"
    assert "about to fail" in Path(bad.output_dir, "output.log").read_text()
    killed = ledger("killed").runs()[0]
    assert (killed.state, killed.signal) == (RunState.FAILED, 9)
    assert killed.reason.startswith("killed by SIGKILL")
    slow = ledger("slow").runs()[0]
    assert (slow.state, slow.reason) == (RunState.FAILED, "timed out after 1 s")
    pids = Path(slow.output_dir, "pids.0").read_text().split()
    assert not any(psutil.pid_exists(int(p)) for p in pids)  # the run and its child
    assert all("warm launcher" in engine.records[p.runs[0].name].command for p in plans)


def test_a_warm_run_is_stopped_by_the_user() -> None:
    plan = make_plan("stop", "hang", {"seed": [0]}, preload=("json",))

    def on_event(event: Any) -> None:
        if event.kind == EventKind.STARTED and event.run and event.run.name == "stop_s0":
            ledger("stop").send("stop", "stop_s0")

    status, _, _ = run_plans(plan, max_cpus=1, listeners=[on_event])
    assert status == 1
    run = ledger("stop").runs()[0]
    assert (run.state, run.reason) == (RunState.CANCELLED, "stopped by the user")


def test_mpi_runs_keep_mpiexec() -> None:
    plan = make_plan("mpi", "nothing", {"seed": 0}, num_cpu=2, preload=("json",))
    status, engine, _ = run_plans(plan, max_cpus=2)
    assert status == 0
    command = engine.records[plan.runs[0].name].command
    assert "mpiexec" in command and "warm launcher" not in command


def _parent(pid: int) -> int:
    return psutil.Process(pid).ppid()


def test_kill_9_of_the_engine_ends_the_warm_run_what_it_started_and_the_launcher(
    in_tmp: Path,
) -> None:
    grid = write_grid(in_tmp / "g.toml", "k9w", "detach", 'seed = 0\nthen = "hang"',
                      '[run]\npreload = ["json"]')  # fmt: skip
    proc = subprocess.Popen(cli(str(grid), "--no-ui", "--max-cpus", "1"), text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)  # fmt: skip
    run = wait_for(lambda: ledger("k9w").runs(), what="the planned run")[0]
    pids = Path(run.output_dir, "pids.0")
    wait_for(pids.exists, what=str(pids))
    rank, daemon = (int(p) for p in pids.read_text().split())
    watcher = _parent(rank)
    launcher = _parent(watcher)
    assert _parent(launcher) == proc.pid  # the engine started the launcher
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    assert wait_gone([rank, daemon, watcher, launcher], timeout=10) == []


def test_a_warm_run_ends_what_its_thunk_detached() -> None:
    plan = make_plan("det", "detach", {"seed": 0}, preload=("json",))
    assert run_plans(plan, max_cpus=1)[0] == 0
    rank, daemon = (int(p) for p in Path(plan.runs[0].output_dir, "pids.0").read_text().split())
    assert wait_gone([rank, daemon], timeout=10) == []


def test_the_sweep_check_and_the_engine_import_the_preload_once(in_tmp: Path) -> None:
    Path("counted.py").write_text(
        "import os\nwith open('imports.txt', 'a') as f:\n    f.write(f'{os.getpid()}\\n')\n"
    )
    plan = state_plan("once", 2, preload=("counted",))
    assert run_plans(plan, max_cpus=1)[0] == 0
    importers = Path("imports.txt").read_text().split()
    assert len(importers) == 1  # the launcher the check started is the one the runs came from
    assert {s["grandparent"] for s in states(plan)} == {int(importers[0])}


def test_experiment_grid_run_takes_a_preload_list() -> None:
    grid = ExperimentGrid("api")
    grid.add("seed", [0])
    grid.run("warm_thunks:state", data_dir="data", max_cpus=1, preload=["json"])
    assert "forked from the warm launcher of json" in ledger("api").runs()[0].command
