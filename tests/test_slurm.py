"""The Slurm backend: the [slurm] table, Slurm's answers, and real jobs on a one-node cluster.

The cluster tests (marked ``slurm``) submit through :class:`SlurmExecutor` to the cluster that
``slurm_cluster`` starts. The time-limit job needs a minute of Slurm's time, so it is submitted
when the module's first cluster test starts and checked by the last test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import wait_for
from slurm_cluster import Cluster, slurm_cluster  # noqa: F401  (the session fixture)
from slurm_helpers import FAST, log_of, make_plan, payload, submit, wait_ends, wait_queue

from slc_tui.engine import ledger as L
from slc_tui.engine import slurm_cli
from slc_tui.engine import slurm_parse as parse
from slc_tui.engine.core import Engine
from slc_tui.engine.ledger_fs import fs_type
from slc_tui.engine.slurm import SlurmError, SlurmExecutor
from slc_tui.slurm_conf import SlurmConfigError, validate_slurm_table
from slc_tui.states import RunState


# -- the [slurm] table and Slurm's answers (no cluster needed) ---------------------------------
def test_table_normalized() -> None:
    conf = validate_slurm_table(
        {"partition": "gpu", "time": "1:30:00", "mem": "4g", "extra_args": ["--gres=gpu:1"],
         "max_jobs": 8, "qos": "short", "account": "lab", "cpus_per_task": 2}
    )  # fmt: skip
    assert conf["mem"] == "4G" and conf["time"] == "1:30:00" and conf["max_jobs"] == 8
    assert conf["poll_interval"] == 5.0 and conf["launcher"] == "mpiexec"
    assert validate_slurm_table(conf) == conf  # the executor validates again: idempotent
    assert validate_slurm_table({"time": 30})["time"] == "30"
    assert validate_slurm_table({"time": "2-12:00"})["time"] == "2-12:00"


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({"partiton": "gpu"}, "unknown key 'partiton'"),
        ({"time": "an hour"}, "[slurm] time"),
        ({"time": True}, "[slurm] time"),
        ({"mem": "4 GB"}, "[slurm] mem"),
        ({"max_jobs": 0}, "[slurm] max_jobs"),
        ({"max_jobs": True}, "[slurm] max_jobs"),
        ({"extra_args": "--gres=gpu:1"}, "[slurm] extra_args must be a list"),
        ({"extra_args": ["--output=x.log"]}, "'--output=x.log' is set by slc-tui"),
        ({"extra_args": ["-Jname"]}, "'-Jname' is set by slc-tui"),
        ({"poll_interval": 0.1}, "[slurm] poll_interval"),
        ({"launcher": "mpirun"}, "[slurm] launcher"),
        ({"partition": "a b"}, "[slurm] partition"),
        ({"mem": "1G", "mem_per_cpu": "1G"}, "exclude each other"),
    ],
)
def test_table_errors_name_the_key(table: dict[str, Any], words: str) -> None:
    with pytest.raises(SlurmConfigError) as err:
        validate_slurm_table(table)
    assert words in str(err.value)


def test_parse_answers() -> None:
    jobs = parse.parse_squeue(
        "12|PENDING|0|Priority|a_s0|\n13|RUNNING|2|None|b|c|\n"
        "14_3|RUNNING|0|None|grid|\n14_[4-9%2]|PENDING|0|JobArrayTaskLimit|grid|\n"
    )
    assert jobs["12"].reason == "Priority" and jobs["12"].active and jobs["12"].restarts == 0
    assert jobs["13"].name == "b|c" and jobs["13"].reason == "" and jobs["13"].restarts == 2
    assert set(jobs) == {"12", "13", "14_3"}  # the collapsed pending tasks are no job of ours
    acct = parse.parse_sacct(
        "14|CANCELLED by 0|0:15|00:01:00|x_s1\n15_2|TIMEOUT|0:0|01:00|y|z\n16_[3-4]|PENDING|0:0|1|g"
    )
    assert (acct["14"].state, acct["14"].reason, acct["14"].signal) == ("CANCELLED", "by 0", 15)
    assert not acct["15_2"].active and acct["15_2"].time_limit == "01:00"
    assert acct["15_2"].name == "y|z" and "16_[3-4]" not in acct
    shown = parse.parse_scontrol(
        "JobId=7 JobName=r_s0 UserId=root(0) JobState=OUT_OF_MEMORY Reason=OutOfMemory "
        "ExitCode=0:9 RunTime=00:00:02 TimeLimit=UNLIMITED StdOut=/x/output.log\n"
        "JobId=9 ArrayJobId=8 ArrayTaskId=1 JobName=g JobState=PREEMPTED Restarts=1 ExitCode=0:0\n"
        "JobId=8 ArrayJobId=8 ArrayTaskId=2-5%2 JobName=g JobState=PENDING ExitCode=0:0\n"
    )
    info = shown["7"]
    assert (info.state, info.exit_code, info.signal, info.reason) == (
        "OUT_OF_MEMORY", 0, 9, "OutOfMemory")  # fmt: skip
    assert set(shown) == {"7", "8_1"} and shown["8_1"].restarts == 1
    assert parse.base_id("8_1") == "8" and parse.base_id("7") == "7"


def test_no_sbatch_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    run = make_plan(tmp_path, "work").runs[0]
    with pytest.raises(SlurmError, match="sbatch was not found on PATH"):
        SlurmExecutor({}).start(run, payload(tmp_path, run), 1, [])


def test_tmpfs_refused_when_jobs_leave_this_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if fs_type("/dev/shm") != "tmpfs":
        pytest.skip("/dev/shm is not a tmpfs here")
    monkeypatch.setattr(slurm_cli, "partition_nodes", lambda _p: {"node1", "node2"})
    shm = Path(f"/dev/shm/slc-tui-test-{os.getpid()}")
    try:
        run = make_plan(shm, "work").runs[0]
        with pytest.raises(SlurmError, match="tmpfs file system of this machine"):
            SlurmExecutor({}).start(run, payload(tmp_path, run), 1, [])
    finally:
        shutil.rmtree(shm, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(slurm_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory  # noqa: F811
            ) -> Iterator[tuple[Cluster, Any]]:  # fmt: skip
    """The cluster, plus a job with a one-minute time limit submitted now, checked last.

    That job holds a CPU for over a minute: the tests that need the whole node (2-rank runs)
    come first and take ``slurm_cluster`` itself, so they never wait behind it.
    """
    where = tmp_path_factory.mktemp("timeout")
    ex = SlurmExecutor({**FAST, "time": "1", "signal": "USR1@15"})
    plan = make_plan(where, "checkpointing", name="sl-timeout")
    submit(ex, where, plan)
    yield slurm_cluster, (ex, plan)
    ex.shutdown(grace=1)


slurm = pytest.mark.slurm
"""Marks the tests that need the cluster."""


# -- real jobs -----------------------------------------------------------------------------------
@slurm
def test_submit_and_follow_states(slurm_cluster: Cluster, tmp_path: Path) -> None:  # noqa: F811
    ex = SlurmExecutor(FAST)
    plan = make_plan(tmp_path, "work", seeds=(0, 1), secs=[2])
    ids = submit(ex, tmp_path, plan)
    seen: list[str] = []
    ends = wait_ends(ex, seen=seen)
    assert all(e.exit_code == 0 and not e.reason for e in ends.values()), ends
    assert "RUNNING" in seen and "COMPLETED" in seen, seen
    text = log_of(plan)
    assert f"'job': '{ids[plan.runs[0].name]}'" in text  # its own job, its own log
    assert "'SLURM_NTASKS': '1'" in text and "'SLC_TUI_ENGINE': ''" in text


@slurm
@pytest.mark.parametrize("launcher", ["mpiexec", "srun"])
def test_mpi_run_of_two_ranks(
    slurm_cluster: Cluster,  # noqa: F811
    tmp_path: Path,
    launcher: str,
) -> None:
    if slurm_cluster.cpus < 2:
        pytest.skip("the node has fewer than 2 CPUs")
    ex = SlurmExecutor({**FAST, "launcher": launcher})
    plan = make_plan(tmp_path, "ranks", num_cpu=2)
    submit(ex, tmp_path, plan)
    ends = wait_ends(ex)
    text = log_of(plan)
    assert ends[plan.runs[0].name].exit_code == 0, text
    assert "rank 0 of 2" in text and "rank 1 of 2" in text


@slurm
def test_failing_run(cluster: Any, tmp_path: Path) -> None:
    ex = SlurmExecutor(FAST)
    plan = make_plan(tmp_path, "fail", seeds=(3,))
    submit(ex, tmp_path, plan)
    end = wait_ends(ex)[plan.runs[0].name]
    assert end.exit_code == 1 and not end.stopped and end.reason == ""
    assert "ValueError: bad seed 3" in log_of(plan)


@slurm
def test_cancel_a_running_and_a_pending_job(cluster: Any, tmp_path: Path) -> None:
    ex = SlurmExecutor({**FAST, "extra_args": ["--hold"]})
    held = make_plan(tmp_path, "work", name="sl-held")
    submit(ex, tmp_path, held)
    wait_queue(ex, held.runs[0].name, "PENDING (JobHeldUser)")
    ex2 = SlurmExecutor(FAST)
    busy = make_plan(tmp_path, "work", name="sl-busy", secs=[600])
    job_id = submit(ex2, tmp_path, busy)[busy.runs[0].name]
    wait_queue(ex2, busy.runs[0].name, "RUNNING")
    wait_for(
        (Path(busy.runs[0].output_dir) / "output.log").exists, what="the run's log in its folder"
    )
    ex.stop(held.runs[0].name)
    ex2.stop(busy.runs[0].name)
    for executor in (ex, ex2):
        assert all(e.stopped for e in wait_ends(executor, timeout=20).values())
    assert "CANCELLED" in log_of(busy)
    assert slurm_cli.show_job(job_id).state == "CANCELLED"  # type: ignore[union-attr]


@slurm
def test_shutdown_cancels_every_job(cluster: Any, tmp_path: Path) -> None:
    ex = SlurmExecutor(FAST)
    plan = make_plan(tmp_path, "work", seeds=(0, 1), secs=[600])
    ids = submit(ex, tmp_path, plan)
    wait_queue(ex, plan.runs[1].name, "RUNNING")
    ends = ex.shutdown(grace=2)
    assert len(ends) == 2 and {e.name for e in ends} == set(ids)
    assert all(e.stopped for e in ends) and not ex.running()
    states = {slurm_cli.show_job(i).state for i in ids.values()}  # type: ignore[union-attr]
    assert states <= {"CANCELLED", "COMPLETING"}


@slurm
@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({"mem": "999999G"}, "Memory specification can not be satisfied"),
        ({"partition": "nowhere"}, "nvalid partition"),
    ],
)
def test_cluster_refusal_is_reported(
    cluster: Any, tmp_path: Path, table: dict[str, Any], words: str
) -> None:
    run = make_plan(tmp_path, "work").runs[0]
    with pytest.raises(SlurmError, match="Slurm refused the job") as err:
        SlurmExecutor({**table, "array": False}).start(run, payload(tmp_path, run), 1, [])
    assert words in str(err.value)
    ex = SlurmExecutor(table)  # an array: refused at the flush, the run's end at the poll
    ex.start(run, payload(tmp_path, run), 1, [])
    assert ex.flush() == {}
    (end,) = ex.poll()
    assert end.name == run.name and end.exit_code is None and not end.requeue
    assert end.reason.startswith("could not start: Slurm refused the job") and words in end.reason
    assert not ex.running() and not list((tmp_path / "arrays").glob("*/*"))  # links gone


@slurm
def test_output_dir_the_node_cannot_see(cluster: Any, tmp_path: Path) -> None:
    ex = SlurmExecutor({**FAST, "extra_args": ["--hold"]})
    plan = make_plan(tmp_path, "work")
    job_id = submit(ex, tmp_path, plan)[plan.runs[0].name]
    # As if the data folder were local to the login node (a fresh run's log is written beside
    # its folder, which its logger makes: see slc_tui.engine.rundir).
    shutil.rmtree(Path(plan.runs[0].output_dir).parent)
    subprocess.run(["scontrol", "release", job_id], check=True)
    end = wait_ends(ex, timeout=30)[plan.runs[0].name]
    assert end.exit_code != 0 and "on a file system the nodes can see" in end.reason, end


@slurm
def test_adopt_follows_a_job_of_an_earlier_executor(cluster: Any, tmp_path: Path) -> None:
    first = SlurmExecutor(FAST)
    plan = make_plan(tmp_path, "work", secs=[3])
    run = plan.runs[0]
    job_id = submit(first, tmp_path, plan)[run.name]
    later = SlurmExecutor(FAST)
    assert not later.adopt(run, "999999")
    other = make_plan(tmp_path, "work", name="sl-other").runs[0]
    assert not later.adopt(other, job_id)  # a job id of another run's job
    assert later.adopt(run, job_id)
    assert wait_ends(later)[run.name].exit_code == 0
    assert later.adopt(run, job_id)  # ended while unwatched: its end is still reported
    assert wait_ends(later)[run.name].exit_code == 0


@slurm
def test_resume_reattaches_instead_of_resubmitting(
    cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = make_plan(tmp_path, "work", seeds=(0, 1), secs=[3])
    crashed = Engine([plan], SlurmExecutor(FAST), budget=[0, 1])
    crashed.prepare()
    crashed._start_ready()
    for name, job_id in crashed.executor.flush().items():  # as the loop does, one array
        crashed.book.set(name, job_id=job_id)
    # both submitted; then the engine "dies" without a word
    ids = {n: r.job_id for n, r in crashed.records.items()}
    for files in crashed.book.files.values():
        files.close()  # as the kernel would at its death: the lock goes with the process
    resumed = Engine([plan], SlurmExecutor(FAST), budget=[0, 1], resume=True)
    submitted: list[str] = []
    monkeypatch.setattr(resumed.executor, "start", lambda run, *a: submitted.append(run.name))
    asked: list[str] = []
    real = slurm_cli.run
    monkeypatch.setattr(
        slurm_cli, "run", lambda args, *a, **k: asked.append(args[0]) or real(args, *a, **k)
    )
    resumed.prepare()
    assert asked == ["squeue"]  # both tasks of the array adopted from one answer
    assert resumed.run() == 0
    assert submitted == []
    records = L.Ledger.open(L.ledger_path(plan.data_dir, plan.name)).runs()
    assert {r.name: r.job_id for r in records} == ids
    assert all(r.state == RunState.SUCCEEDED and r.attempt == 1 for r in records)


@slurm
def test_timeout_is_slurms_time_limit(cluster: Any) -> None:
    ex, plan = cluster[1]
    end = wait_ends(ex, timeout=150)[plan.runs[0].name]
    assert end.reason.startswith("TIMEOUT: the job reached its Slurm time limit"), end
    assert end.exit_code != 0 and not end.stopped
    assert "DUE TO TIME LIMIT" in log_of(plan)
    assert "checkpoint on SIGUSR1 after" in log_of(plan)  # [slurm] signal, before the limit
