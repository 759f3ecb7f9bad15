"""The planner: runs, names, output directories, clashes and packing."""

from __future__ import annotations

from pathlib import Path

import pytest

from slc_tui.plan import PlanError, check_distinct, pack_waves, plan_grid
from slc_tui.run_utils import ExperimentGrid


def _grid(name: str = "g") -> ExperimentGrid:
    grid = ExperimentGrid(name)
    grid.add("lr", [0.1, 0.2])
    grid.add("seed", [0, 10])
    return grid


def test_runs_follow_the_reference_names_and_folders(tmp_path: Path) -> None:
    plan = plan_grid(_grid(), "m:f", data_dir=tmp_path)
    assert [r.variant for r in plan.runs] == ["g_lr0-1", "g_lr0-1", "g_lr0-2", "g_lr0-2"]
    assert [r.name for r in plan.runs] == ["g_lr0-1_s0", "g_lr0-1_s10", "g_lr0-2_s0", "g_lr0-2_s10"]
    assert plan.runs[1].output_dir == str(tmp_path / "g_lr0-1" / "g_lr0-1_s10")
    assert plan.runs[1].kwargs["logger_kwargs"] == {
        "output_dir": str(tmp_path / "g_lr0-1" / "g_lr0-1_s10"),
        "exp_name": "g_lr0-1",
    }
    assert plan.runs[1].params == {"lr": 0.1, "seed": 10}
    assert [r.idx for r in plan.runs] == [0, 1, 2, 3]


def test_a_grid_without_seed_gets_seed_0_as_call_experiment_does(tmp_path: Path) -> None:
    grid = ExperimentGrid("n")
    grid.add("lr", [1, 2])
    plan = plan_grid(grid, "m:f", data_dir=tmp_path)
    assert [r.name for r in plan.runs] == ["n_lr1_s0", "n_lr2_s0"]
    assert all(r.kwargs["seed"] == 0 for r in plan.runs)


def test_a_string_thunk_naming_a_key_takes_each_variants_callable(tmp_path: Path) -> None:
    grid = ExperimentGrid("t")
    grid.add("algo", [print, len], in_name=True)
    plan = plan_grid(grid, "algo", data_dir=tmp_path)
    assert [r.thunk for r in plan.runs] == [print, len]
    assert "algo" not in plan.runs[0].kwargs
    assert [r.variant for r in plan.runs] == ["t_algprint", "t_alglen"]


def test_nested_keys_become_nested_kwargs(tmp_path: Path) -> None:
    grid = ExperimentGrid("x")
    grid.add("ac_kwargs:hidden_sizes", [[8], [16, 16]], shorthand="hid")
    plan = plan_grid(grid, "m:f", data_dir=tmp_path)
    assert plan.runs[1].kwargs["ac_kwargs"] == {"hidden_sizes": [16, 16]}
    assert plan.runs[1].variant == "x_hid16-16"


def test_two_runs_sharing_a_folder_are_an_error(tmp_path: Path) -> None:
    grid = ExperimentGrid("c")
    grid.add("lr", [0.1, "0.1"])
    with pytest.raises(PlanError, match="'c_lr0-1_s0' and 'c_lr0-1_s0' would share"):
        plan_grid(grid, "m:f", data_dir=tmp_path)


def test_two_grids_sharing_a_folder_are_an_error(tmp_path: Path) -> None:
    a = plan_grid(_grid(), "m:f", data_dir=tmp_path, source="a.toml")
    b = plan_grid(_grid(), "m:f", data_dir=tmp_path, source="b.toml")
    with pytest.raises(PlanError, match=r"of b\.toml and a run of a\.toml"):
        check_distinct([a, b])


def test_the_users_values_are_not_shared_between_runs(tmp_path: Path) -> None:
    sizes = [64, 64]
    grid = ExperimentGrid("m")
    grid.add("hidden", [sizes])
    grid.add("seed", [0, 1])
    plan = plan_grid(grid, "m:f", data_dir=tmp_path)
    plan.runs[0].kwargs["hidden"].append(1)
    assert plan.runs[1].kwargs["hidden"] == [64, 64]
    assert sizes == [64, 64]


def test_runs_pack_in_waves_and_small_runs_fill_gaps(tmp_path: Path) -> None:
    one = plan_grid(_grid("one"), "m:f", data_dir=tmp_path).runs
    two = plan_grid(_grid("two"), "m:f", num_cpu=2, data_dir=tmp_path).runs
    assert [len(w) for w in pack_waves(one, 2)] == [2, 2]
    mixed = [two[0], one[0], one[1], two[1]]
    waves = pack_waves(mixed, 3)
    assert [[r.name for r in w] for w in waves] == [
        [two[0].name, one[0].name],
        [one[1].name, two[1].name],
    ]


def test_ten_thousand_variants_plan(tmp_path: Path) -> None:
    grid = ExperimentGrid("big")
    grid.add("seed", list(range(10)))
    grid.add("lr", [i / 1000 for i in range(100)])
    grid.add("hid", [[i, i] for i in range(10)])
    plan = plan_grid(grid, "m:f", data_dir=tmp_path)
    assert len(plan.runs) == 10_000
    assert len({r.output_dir for r in plan.runs}) == 10_000


def test_plan_errors_name_the_key_a_grid_file_can_point_at(tmp_path: Path) -> None:
    grid = ExperimentGrid("k")
    grid.add("seed", [0, "a/b"])
    with pytest.raises(PlanError) as info:
        plan_grid(grid, "m:f", data_dir=tmp_path)
    assert info.value.key == "seed" and isinstance(info.value, ValueError)
    assert str(info.value) == f"grid 'k': {info.value.problem}"
    with pytest.raises(PlanError, match="num_cpu must be a positive integer") as info:
        plan_grid(_grid(), "m:f", num_cpu=0, data_dir=tmp_path)
    assert info.value.key == "num_cpu"


def test_packing_is_linear_in_the_runs(tmp_path: Path) -> None:
    grid = ExperimentGrid("p")
    grid.add("seed", list(range(100_000)))
    runs = plan_grid(grid, "m:f", data_dir=tmp_path, lazy=True).runs
    waves = pack_waves(runs[:20_000], 3)
    assert len(waves) == 6667 and [r.name for r in waves[-1]] == ["p_s19998", "p_s19999"]
