"""The Slurm backend without a cluster: the new [slurm] keys, the array's sbatch line and
script, grouping by shape, the polling backoff, the requeue rule, and --dry-run."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import cli, write_grid
from fake_executor import FAIL, OK, Script
from slurm_helpers import make_plan, payload

from slc_tui.engine import slurm_batch
from slc_tui.engine.core import Engine
from slc_tui.engine.ledger import Ledger, ledger_path
from slc_tui.engine.slurm import SlurmExecutor
from slc_tui.engine.slurm_backoff import Backoff
from slc_tui.engine.slurm_batch import groups, job_of, queued_run
from slc_tui.engine.slurm_parse import JobInfo
from slc_tui.engine.slurm_track import Job, end_of, requeued
from slc_tui.grid import ExperimentGrid
from slc_tui.options import RunOptions
from slc_tui.plan import plan_grid
from slc_tui.slurm_conf import SlurmConfigError, validate_slurm_table
from slc_tui.slurm_job import PREEMPT_SIGNAL_ENV, Task, batch_script, sbatch_args
from slc_tui.states import RunState


def test_new_keys_normalized() -> None:
    conf = validate_slurm_table(
        {"array": False, "requeue": True, "signal": "sigusr1@90", "max_requeues": 0,
         "poll_interval": 2, "max_poll_interval": 30}
    )  # fmt: skip
    assert (conf["array"], conf["requeue"], conf["signal"]) == (False, True, "B:USR1@90")
    assert (conf["max_requeues"], conf["poll_interval"], conf["max_poll_interval"]) == (0, 2, 30)
    assert validate_slurm_table(conf) == conf
    defaults = validate_slurm_table({})
    assert defaults["array"] and defaults["requeue"] is None and defaults["signal"] is None
    assert defaults["max_poll_interval"] == 60 and defaults["max_requeues"] == 5
    assert validate_slurm_table({"signal": "R:TERM"})["signal"] == "R:TERM"
    assert validate_slurm_table({"poll_interval": 90})["max_poll_interval"] == 90


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({"array": "yes"}, "[slurm] array must be true or false"),
        ({"requeue": 1}, "[slurm] requeue must be true or false"),
        ({"signal": "USR1 at 90"}, "[slurm] signal must be a signal"),
        ({"signal": 10}, "[slurm] signal must be a signal"),
        ({"max_requeues": -1}, "[slurm] max_requeues must be an integer >= 0"),
        ({"max_poll_interval": 0.5}, "[slurm] max_poll_interval"),
        ({"extra_args": ["--array=0-3"]}, "set by slc-tui itself ([slurm] array)"),
        ({"extra_args": ["--requeue"]}, "set by slc-tui itself ([slurm] requeue)"),
        ({"extra_args": ["--signal=USR1@60"]}, "set by slc-tui itself ([slurm] signal)"),
    ],
)
def test_new_keys_refused_with_the_key(table: dict[str, Any], words: str) -> None:
    with pytest.raises(SlurmConfigError) as err:
        validate_slurm_table(table)
    assert words in str(err.value)


def test_array_line_and_script() -> None:
    conf = validate_slurm_table({"requeue": False, "signal": "USR1@60", "max_jobs": 5})
    args = sbatch_args(conf, name="g", resources=["--ntasks=2"], log="/d/%a", chdir="/w",
                       array="0-2%5")  # fmt: skip
    assert args[:4] == ["sbatch", "--parsable", "--job-name=g", "--ntasks=2"]
    assert {"--output=/d/%a", "--array=0-2%5", "--no-requeue", "--signal=B:USR1@60"} <= set(args)
    tasks = [Task(f"r{i}", 1, ("python", "-m", "x", f"p {i}"), (("A", f"v {i}"),), f"/l{i}")
             for i in range(3)]  # fmt: skip
    script = batch_script(tasks, array=True, unset=("E",), signal=conf["signal"])
    # the shell runs it: each task index runs its own run's command, with its own variables
    shown = script.replace("exec ", 'exec printf "%s|" "$A" "$E" "$SLC_TUI_PREEMPT_SIGNAL" ')
    for i in range(3):
        out = subprocess.run(
            ["sh", "-c", shown, "sh"],
            env={"SLURM_ARRAY_TASK_ID": str(i), "E": "x", "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True,
        )  # fmt: skip
        assert out.stdout == f"v {i}||USR1|python|-m|x|p {i}|" and out.returncode == 0, out
    assert f"export {PREEMPT_SIGNAL_ENV}=USR1" in script and "unset E" in script
    out = subprocess.run(["sh", "-c", script, "sh"], env={"SLURM_ARRAY_TASK_ID": "3"},
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 2 and "no run for array task 3" in out.stderr
    plain = batch_script(tasks[:1], array=False)
    assert "case" not in plain and plain.endswith("exec python -m x 'p 0'\n")


def test_runs_group_by_grid_and_shape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = validate_slurm_table({})
    one = make_plan(tmp_path, "work", seeds=(0, 1, 2), name="g1")
    two = make_plan(tmp_path, "work", seeds=(0, 1), num_cpu=2, name="g2")
    items = [queued_run(conf, r, payload(tmp_path, r), 1, None)
             for r in [*one.runs, *two.runs]]  # fmt: skip
    assert [[q.run.name for q in g] for g in groups(items)] == [
        [r.name for r in one.runs], [r.name for r in two.runs]]  # fmt: skip
    monkeypatch.setattr(slurm_batch, "ARRAY_MAX", 2)
    assert [len(g) for g in groups(items)] == [2, 1, 2]
    args, script = job_of(conf, items[:3], "/w", tmp_path / "links")
    assert "--array=0-2" in args and f"--output={tmp_path}/links/%a" in args
    assert script.count("exec ") == 3 and "--job-name=g1" in args


def test_backoff_grows_while_nothing_changes_and_resets() -> None:
    b = Backoff(2, 60)
    waits = [b.after(False) for _ in range(12)]
    assert waits[0] == 3 and waits == sorted(waits) and waits[-1] == 60
    assert b.after(True) == 2 and b.after(False) == 3
    b.after(False)
    assert b.reset() == 2 and Backoff(5, 1).most == 5


def test_requeue_rule(tmp_path: Path) -> None:
    job = Job("r", "7_1", str(tmp_path), restarts=1)
    assert not requeued(job, JobInfo("7_1", "RUNNING", restarts=1))
    assert requeued(job, JobInfo("7_1", "PENDING", "BeginTime", restarts=2))
    assert requeued(job, JobInfo("7_1", "REQUEUED", restarts=1))
    for state in ("PREEMPTED", "NODE_FAIL"):
        end = end_of(job, JobInfo("7_1", state, exit_code=0))
        assert end.requeue and end.reason.startswith(state), end
    assert not end_of(job, JobInfo("7_1", "TIMEOUT", exit_code=0)).requeue
    job.stopping = True  # a cancel of ours is never requeued
    assert not end_of(job, JobInfo("7_1", "PREEMPTED")).requeue


def test_dry_run_shows_the_sbatch_script(in_tmp: Path) -> None:
    grid = write_grid(
        in_tmp / "s.toml",
        "sl",
        "work",
        "seed = [0, 1, 2, 3, 4]",
        '[run]\nbackend = "slurm"\n[slurm]\nmax_jobs = 2\nsignal = "USR1@60"',
    )
    res = subprocess.run(cli(str(grid), "--dry-run"), capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "Slurm: 1 array job" in out and "--array=0-4%2" in out and "--job-name=sl" in out
    assert 'case "$SLURM_ARRAY_TASK_ID" in' in out and "# ... 2 more runs" in out
    assert "0)  # sl_s0, attempt 1" in out and f"export {PREEMPT_SIGNAL_ENV}=USR1" in out
    assert not (in_tmp / "data").exists()  # nothing written
    grid.write_text(grid.read_text().replace("max_jobs = 2", "array = false"))
    res = subprocess.run(cli(str(grid), "--dry-run"), capture_output=True, text=True)
    assert "Slurm: one job per run" in res.stdout and "--array" not in res.stdout
    assert "--job-name=sl_s0" in res.stdout and "case" not in res.stdout


def test_a_requeue_is_a_new_attempt_not_a_retry(in_tmp: Path, fake_executor: Any) -> None:
    pre = Script(code=None, reason="PREEMPTED: Slurm preempted the job; a new attempt",
                 requeue=True)  # fmt: skip
    fake_executor.scripts = {"rq_s0": [pre, pre, FAIL, OK]}
    grid = ExperimentGrid("rq")
    grid.add("seed", [0])
    plan = plan_grid(grid, "engine_thunks:nothing", data_dir="data",
                     options=RunOptions(retries=1))  # fmt: skip
    assert Engine([plan], fake_executor, budget=[0]).run() == 0  # one retry, two requeues
    view = Ledger.open(ledger_path(plan.data_dir, "rq"))
    assert [(a["attempt"], a["state"], a["reason"][:9]) for a in view.attempts("rq_s0")] == [
        (1, RunState.FAILED, "PREEMPTED"), (2, RunState.FAILED, "PREEMPTED"),
        (3, RunState.FAILED, "ValueErro"), (4, RunState.SUCCEEDED, ""),
    ]  # fmt: skip


def test_requeues_are_capped() -> None:
    ex = SlurmExecutor({"max_requeues": 1})
    assert ex._requeue_end("r", "PREEMPTED: x", None, None).requeue
    end = ex._requeue_end("r", "PREEMPTED: x", None, None)
    assert not end.requeue and "requeued too often (max_requeues = 1)" in end.reason
