"""Job arrays, requeues and both ways of reading a job's end, on real clusters: one without
accounting (``scontrol``) and one with slurmdbd (``sacct``). Each test runs on both."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slurm_cluster import Cluster, slurm_accounting_cluster, slurm_cluster  # noqa: F401
from slurm_helpers import log_of, make_plan, submit, wait_queue

from slc_tui.engine import ledger as L
from slc_tui.engine import slurm_cli
from slc_tui.engine.core import Engine
from slc_tui.engine.events import Event
from slc_tui.engine.slurm import SlurmExecutor
from slc_tui.plan import GridPlan
from slc_tui.states import EventKind, Resume, RunState

pytestmark = pytest.mark.slurm
QUICK = {"poll_interval": 1, "max_poll_interval": 2}


@pytest.fixture(scope="module", params=["scontrol", "sacct"])
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The cluster without accounting, then the one with (its SLURM_CONF set meanwhile)."""
    fixture = "slurm_cluster" if request.param == "scontrol" else "slurm_accounting_cluster"
    found: Cluster = request.getfixturevalue(fixture)
    old = os.environ.get("SLURM_CONF")
    os.environ.update(found.env)
    try:
        yield found
    finally:
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old


@pytest.fixture
def sbatch_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every command line given to ``sbatch``, and every ``squeue`` and ``sacct`` call."""
    calls: list[list[str]] = []
    real = slurm_cli.run

    def run(args: Any, *a: Any, **k: Any) -> Any:
        calls.append(list(args))
        return real(args, *a, **k)

    monkeypatch.setattr(slurm_cli, "run", run)
    return calls


def records(plan: GridPlan) -> dict[str, L.RunRecord]:
    return {r.name: r for r in L.Ledger.open(L.ledger_path(plan.data_dir, plan.name)).runs()}


def test_a_grid_of_20_runs_is_one_array_submission(
    cluster: Cluster, tmp_path: Path, sbatch_calls: list[list[str]]
) -> None:
    plan = make_plan(tmp_path, "work", seeds=tuple(range(20)), secs=[0.1])
    ex = SlurmExecutor({**QUICK, "max_jobs": 4, "signal": "USR1@30", "time": "5"})
    started: dict[str, str | None] = {}

    def listen(event: Event) -> None:
        if event.kind == EventKind.STARTED and event.run:
            started[event.run.name] = event.run.job_id

    assert Engine([plan], ex, budget=list(range(20)), listeners=[listen]).run() == 0
    submissions = [c for c in sbatch_calls if c[0] == "sbatch"]
    assert len(submissions) == 1 and "--array=0-19%4" in submissions[0]
    assert "--signal=B:USR1@30" in submissions[0]
    ids = {name: r.job_id for name, r in records(plan).items()}
    base = str(ids[plan.runs[0].name]).split("_")[0]
    assert sorted(ids.values()) == sorted(f"{base}_{i}" for i in range(20))
    assert started == ids  # each run's start is told with its task's job id
    for i, run in enumerate(plan.runs):  # each task ran its own run, into its own log
        text = log_of(plan, i)
        assert f"done {i} " in text and f"'job': '{ids[run.name]}'" in text, text
        assert "'SLC_TUI_PREEMPT_SIGNAL': 'USR1'" in text
    queries = [c for c in sbatch_calls if c[0] in ("squeue", "sacct")]
    assert queries and all(c[c.index("-j") + 1] == base for c in queries)  # the whole sweep
    assert ex.accounting is cluster.accounting  # the end read from sacct, or from scontrol
    assert not list((Path(plan.data_dir) / ".slc-tui" / plan.name / "arrays").glob("*"))


def test_a_failing_task_is_reported_and_rerun_alone_by_resume(
    cluster: Cluster, tmp_path: Path, sbatch_calls: list[list[str]]
) -> None:
    marker = tmp_path / "fail-seed-1"
    marker.touch()
    plan = make_plan(tmp_path, "flaky", seeds=(0, 1, 2), marker=[str(marker)])
    assert Engine([plan], SlurmExecutor(QUICK), budget=[0, 1, 2]).run() == 1
    first = records(plan)
    failed = plan.runs[1].name
    assert first[failed].state == RunState.FAILED, first[failed]
    assert first[failed].reason.startswith("ValueError: bad seed 1"), first[failed].reason
    assert {r.state for n, r in first.items() if n != failed} == {RunState.SUCCEEDED}
    marker.unlink()
    sbatch_calls.clear()
    assert Engine([plan], SlurmExecutor(QUICK), budget=[0, 1, 2], resume=Resume.FAILED).run() == 0
    submissions = [c for c in sbatch_calls if c[0] == "sbatch"]
    assert len(submissions) == 1 and "--array=0-0" in submissions[0]
    again = records(plan)
    assert again[failed].state == RunState.SUCCEEDED and again[failed].attempt == 2
    assert again[failed].job_id != first[failed].job_id
    assert all(again[n] == first[n] for n in first if n != failed)  # the others untouched


def test_scancel_of_one_task_shows_as_cancelled(cluster: Cluster, tmp_path: Path) -> None:
    ex = SlurmExecutor(QUICK)
    plan = make_plan(tmp_path, "work", seeds=(0, 1), secs=[600])
    ids = submit(ex, tmp_path, plan)
    one, other = (r.name for r in plan.runs)
    wait_queue(ex, one, "RUNNING")
    subprocess.run(["scancel", ids[one]], check=True)
    ends = _wait_end(ex, one)
    assert ends.outcome() == (RunState.CANCELLED, ends.reason), ends
    assert ends.reason.startswith("cancelled outside slc-tui"), ends
    assert ex.running() == [other]  # its array's other task goes on
    ex.stop(other)  # scancel JOB_TASK
    assert _wait_end(ex, other).stopped and not ex.running()
    state = (slurm_cli.show_job(ids[other]) or slurm_cli.JobInfo(ids[other], "GONE")).state
    assert state in ("CANCELLED", "COMPLETING", "GONE")


def test_a_requeued_task_comes_back_as_a_new_attempt(cluster: Cluster, tmp_path: Path) -> None:
    plan = make_plan(tmp_path, "work", secs=[4])
    name = plan.runs[0].name
    engine = Engine([plan], SlurmExecutor(QUICK), budget=[0])
    requeued: list[str] = []

    def requeue() -> None:  # once the run's task is running, as a preemption would
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            record = engine.records.get(name)
            if record and record.job_id and record.queue_state == "RUNNING":
                subprocess.run(["scontrol", "requeue", str(record.job_id)], check=True)
                requeued.append(str(record.job_id))
                return
            time.sleep(0.2)

    thread = threading.Thread(target=requeue, daemon=True)
    thread.start()
    assert engine.run() == 0
    thread.join(5)
    assert requeued, "the run never showed RUNNING"
    record = records(plan)[name]
    assert record.state == RunState.SUCCEEDED and record.attempt == 2, record
    assert record.job_id != requeued[0]
    ledger = L.Ledger.open(L.ledger_path(plan.data_dir, plan.name))
    first = ledger.attempts(name)[0]
    assert first["job_id"] == requeued[0] and first["reason"].startswith("REQUEUED"), first
    assert (Path(plan.runs[0].output_dir) / "output.1.log").exists()  # the first attempt's log


def _wait_end(ex: SlurmExecutor, name: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for end in ex.poll():
            if end.name == name:
                return end
        time.sleep(0.1)
    raise AssertionError(f"{name} never ended ({ex.last_error})")
