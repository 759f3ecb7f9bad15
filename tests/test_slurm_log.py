"""A fresh Slurm run writes its log (sbatch's ``--output``) beside its folder until its logger
makes the folder, as a local run does; a failed job's reason is the entrypoint's one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from engine_thunks import raised_at
from slurm_cluster import Cluster, slurm_cluster  # noqa: F401  (the session fixture)

from slc_tui.engine import ledger as L
from slc_tui.engine.core import Engine
from slc_tui.engine.slurm import SlurmExecutor
from slc_tui.options import RunOptions
from slc_tui.plan import GridPlan, plan_grid
from slc_tui.run_utils import ExperimentGrid
from slc_tui.states import RunState

pytestmark = pytest.mark.slurm
THUNKS = Path(__file__).with_name("engine_thunks.py")


def _plan(where: Path, name: str, thunk: str) -> GridPlan:
    grid = ExperimentGrid(name)
    grid.add("seed", [0, 1])
    return plan_grid(grid, f"{THUNKS}:{thunk}", data_dir=where / "data",
                     options=RunOptions(backend="slurm"))  # fmt: skip


def test_a_fresh_slurm_run_logs_into_the_folder_its_logger_makes(
    slurm_cluster: Cluster,  # noqa: F811
    tmp_path: Path,
) -> None:
    fresh = _plan(tmp_path, "slurmlog", "spinup_logger")
    deep = _plan(tmp_path, "slurmdeep", "deep_raise")
    engine = Engine([fresh, deep], SlurmExecutor({"poll_interval": 1}), budget=[0, 1])
    assert engine.run() == 1
    for run in fresh.runs:
        log = Path(run.output_dir, "output.log").read_text()
        assert "already exists" not in log and log.startswith("before the folder"), log
        assert json.loads(Path(run.output_dir, "seen.json").read_text())["in_folder"]
        assert [p.name for p in Path(run.output_dir).parent.iterdir() if p.name[0] == "."] == []
    records = L.Ledger.open(L.ledger_path(deep.data_dir, deep.name)).runs()
    reason = f"ValueError: raised deep down the stack (at {raised_at('deep_raise')})"
    assert {(r.state, r.reason) for r in records} == {(RunState.FAILED, reason)}
