"""What the views, the exit status, the grid file and the Python API make of early stopping."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from engine_helpers import write_grid

from slc_tui.early_stop import EarlyStop
from slc_tui.engine.ledger import RunRecord
from slc_tui.errors import InputError
from slc_tui.gridfile import load_grid
from slc_tui.headless import counts, table
from slc_tui.options import RunOptions
from slc_tui.run_utils import ExperimentGrid
from slc_tui.states import FINISHED, RunState, exit_status
from slc_tui.sweep import prepare
from slc_tui.sweep.state import VariantSummary
from slc_tui.ui.labels import run_label, summary_text

REASON = "below the median of 6 variants at epoch 10: 120.3 < 187.0"


def record(state: RunState, seed: int = 0, epoch: int | None = None) -> RunRecord:
    return RunRecord(name=f"g_q1_s{seed}", idx=seed, grid="g", variant="g_q1", seed=seed,
                     params={}, output_dir="/nowhere", num_cpu=1, state=state,
                     reason=REASON if state == RunState.PRUNED else "", epoch=epoch)  # fmt: skip


def test_pruned_ends_a_run_and_is_no_failure() -> None:
    assert RunState.PRUNED in FINISHED
    assert exit_status([RunState.SUCCEEDED, RunState.PRUNED, RunState.PRUNED]) == 0
    assert exit_status([RunState.PRUNED, RunState.FAILED]) == 1


def test_the_headless_table_and_counts_show_pruned_with_the_reason() -> None:
    runs = [record(RunState.SUCCEEDED, 0), record(RunState.PRUNED, 1, epoch=10)]
    text = table(runs)
    assert "✂ pruned" in text and REASON in text
    assert counts(runs) == "2 runs: 1 succeeded, 1 pruned"


def test_the_tree_shows_a_pruned_seed_and_counts_pruned_seeds() -> None:
    never_started = run_label(record(RunState.PRUNED)).plain
    assert never_started.startswith("✂ s0") and REASON in never_started
    summary = VariantSummary(3, Counter({RunState.PRUNED: 2, RunState.SUCCEEDED: 1}))
    assert summary_text(summary).plain == "1/3 ✂2"


def test_a_grid_file_early_stop_table_is_loaded(in_tmp: Path) -> None:
    extra = '\n[early_stop]\nrule = "asha"\nmetric = "AverageEpRet"\ngrace = 2\neta = 2\n'
    spec = load_grid(write_grid(in_tmp / "g.toml", "g", "nothing", "seed = [0, 1]", extra))
    assert spec.early_stop == EarlyStop("asha", "AverageEpRet", "max", 2, 3, 2)
    assert load_grid(write_grid(in_tmp / "h.toml", "h", "nothing", "seed = 0")).early_stop is None


def test_python_callers_pass_early_stop_to_run(in_tmp: Path) -> None:
    eg = ExperimentGrid("py")
    eg.add("seed", [0, 1])
    with pytest.raises(InputError, match="early_stop 'min_variants': 1 is not a whole number"):
        eg.run("engine_thunks:nothing", data_dir="data",
               early_stop={"rule": "median", "metric": "R", "min_variants": 1})  # fmt: skip
    assert not (in_tmp / "data").exists()
    rule = EarlyStop("median", "R")
    sweep = prepare.from_grid(eg, "engine_thunks:nothing", RunOptions(), data_dir="data",
                              early_stop=rule)  # fmt: skip
    assert sweep.plans[0].early_stop is rule
