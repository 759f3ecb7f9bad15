"""What an engine makes of a grid's ledger when it starts: which earlier runs run again.

The ledger learns the plan (new runs added, runs that left the plan forgotten), runs an
earlier engine left running are lost (or adopted, when the backend can follow their job),
and the resume mode decides which finished runs go back to pending.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from slc_tui.engine.ledger import Ledger, RunRecord
from slc_tui.plan import GridPlan, Run
from slc_tui.serialization import convert_json
from slc_tui.states import COMPLETE, Resume, RunState

FRESH: dict[str, Any] = {
    "pid": None, "job_id": None, "queue_state": "", "cores": "", "gpus": "", "started": None,
    "ended": None, "exit_code": None, "signal": None, "reason": "", "tail": "",
    "epoch": None, "metrics": {},
}  # fmt: skip
"""What a run that waits for a new attempt keeps of its last one: nothing."""


def record_of(run: Run, grid: str) -> RunRecord:
    """The ledger record of a planned run that never ran."""
    return RunRecord(
        name=run.name, idx=run.idx, grid=grid, variant=run.variant, seed=run.seed,
        params=convert_json(run.params), output_dir=run.output_dir, num_cpu=run.num_cpu,
    )  # fmt: skip


def keep_output_dir(run: Run, output_dir: str) -> None:
    """Point ``run`` (and its logger) at the folder of its earlier attempt."""
    run.output_dir = output_dir
    logger_kwargs = dict(run.kwargs.get("logger_kwargs") or {})
    logger_kwargs["output_dir"] = output_dir
    run.kwargs["logger_kwargs"] = logger_kwargs


def reconcile(
    ledger: Ledger, plan: GridPlan, resume: Resume, adopt: Callable[[Run, RunRecord], bool]
) -> tuple[list[RunRecord], int]:
    """Bring the ledger in line with ``plan``; return its records and how many runs that
    had succeeded go back to pending (for the notice that says so).

    ``adopt(run, old)`` follows a cluster job an earlier engine left running; True when it did.
    """
    known = {r.name: r for r in ledger.runs()}
    ledger.remove_runs([n for n in known if n not in {r.name for r in plan.runs}])
    ledger.add_runs(record_of(r, plan.name) for r in plan.runs)
    changes: dict[str, dict[str, Any]] = {}
    rerun_succeeded = 0
    for run in plan.runs:
        old = known.get(run.name)
        if old is None:
            continue
        moved = old.output_dir != run.output_dir
        if moved and resume != Resume.ALL and os.path.isdir(old.output_dir):
            keep_output_dir(run, old.output_dir)  # datestamped: resume in place
        elif moved:
            changes[run.name] = {"output_dir": run.output_dir}
        if old.state == RunState.RUNNING and old.job_id and adopt(run, old):
            continue  # a cluster job that outlived its engine: follow it, do not resubmit
        if old.state == RunState.RUNNING:  # its engine died: the run died with it
            old.state, old.reason = RunState.LOST, "its engine ended"
            ledger.record_attempt(old)
        params = convert_json(run.params)
        if params != old.params:  # the grid file changed this run's hyperparameters
            changes.setdefault(run.name, {})["params"] = params
        elif (resume != Resume.ALL and old.state in COMPLETE) or (
            resume == Resume.KEEP and old.state != RunState.LOST
        ):
            continue
        rerun_succeeded += old.state == RunState.SUCCEEDED
        changes[run.name] = {**changes.get(run.name, {}), "state": RunState.PENDING, **FRESH}
    ledger.update_many(changes)
    return ledger.runs(), rerun_succeeded
