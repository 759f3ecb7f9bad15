"""A grid's ``logger_kwargs`` keys reach each run, merged under its own ``output_dir`` and
``exp_name`` (as SLC's ``call_experiment`` merges them), from Python and from grid files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import cli, ledger, write_grid

from slc_tui.gridfile import load_grid
from slc_tui.plan import PlanError, plan_grid
from slc_tui.run_utils import ExperimentGrid
from slc_tui.spinup_args import to_toml

pytestmark = pytest.mark.usefixtures("no_leftovers")


def _received(output_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(output_dir) / "received.json").read_text())  # type: ignore[no-any-return]


def test_the_grids_keys_are_merged_under_the_runs_own(tmp_path: Path) -> None:
    grid = ExperimentGrid("lk")
    grid.add("seed", [0, 10])
    grid.add("logger_kwargs:use_tensorboard", True)
    grid.add("logger_kwargs:verbose_fmt", "table")
    plan = plan_grid(grid, "m:f", data_dir=tmp_path)
    run = plan.runs[1]
    assert run.name == "lk_s10"  # single values stay out of names, as in the reference
    assert run.kwargs["logger_kwargs"] == {
        "output_dir": str(tmp_path / "lk" / "lk_s10"),
        "exp_name": "lk",
        "use_tensorboard": True,
        "verbose_fmt": "table",
    }
    assert run.params == {
        "seed": 10,
        "logger_kwargs": {"use_tensorboard": True, "verbose_fmt": "table"},
    }
    lazy = plan_grid(grid, "m:f", data_dir=tmp_path, lazy=True).runs[1]
    assert (lazy.kwargs, lazy.params) == (run.kwargs, run.params)


def test_verbose_fmt_line_drops_verbose_vars_as_call_experiment_does(tmp_path: Path) -> None:
    grid = ExperimentGrid("v")
    grid.add("logger_kwargs:verbose_fmt", ["line", "table"], shorthand="fmt")
    grid.add("logger_kwargs:verbose_vars", [["AverageEpRet"]])
    runs = plan_grid(grid, "m:f", data_dir=tmp_path).runs
    assert [r.variant for r in runs] == ["v_fmtline", "v_fmttable"]  # varying: in names
    assert runs[0].kwargs["logger_kwargs"]["verbose_vars"] is None
    assert runs[1].kwargs["logger_kwargs"]["verbose_vars"] == ["AverageEpRet"]
    given = {"verbose_fmt": "line", "verbose_vars": ["AverageEpRet"]}
    assert runs[0].params["logger_kwargs"] == given  # as the user gave them


def test_a_varying_key_is_named_by_its_default_shorthand(tmp_path: Path) -> None:
    grid = ExperimentGrid("n")
    grid.add("logger_kwargs:tb_log_freq", ["low", "high"])
    grid.add("logger_kwargs:use_wandb", [True, False])
    names = [r.variant for r in plan_grid(grid, "m:f", data_dir=tmp_path).runs]
    assert names == ["n_log-tblow_log-use", "n_log-tblow", "n_log-tbhigh_log-use", "n_log-tbhigh"]


def test_a_whole_logger_kwargs_dict_is_merged_too(tmp_path: Path) -> None:
    grid = ExperimentGrid("d")
    grid.add("logger_kwargs", [{"quiet": True}, {"quiet": False}], shorthand="lk")
    runs = plan_grid(grid, "m:f", data_dir=tmp_path).runs
    assert [r.kwargs["logger_kwargs"]["quiet"] for r in runs] == [True, False]
    assert runs[0].kwargs["logger_kwargs"]["exp_name"] == runs[0].variant
    assert runs[0].params == {"logger_kwargs": {"quiet": True}, "seed": 0}


@pytest.mark.parametrize(
    ("key", "vals", "says"),
    [
        ("logger_kwargs:output_dir", "x", "sets each run's logger_kwargs output_dir itself"),
        ("logger_kwargs:exp_name", ["a", "b"], "sets each run's logger_kwargs exp_name itself"),
        ("logger_kwargs:output_dir:a", 1, "logger_kwargs output_dir itself"),
        ("logger_kwargs", 3, "logger_kwargs takes dicts, not 3"),
        ("logger_kwargs", [{"output_dir": "x"}], "logger_kwargs output_dir itself"),
    ],
)
def test_python_callers_cannot_set_the_runs_own_keys(key: str, vals: Any, says: str) -> None:
    grid = ExperimentGrid("e")
    with pytest.raises(ValueError, match=f"^grid key '{key}': .*{says}"):
        grid.add(key, vals)
    assert grid.keys == []


def test_a_grid_changed_behind_add_is_refused_by_the_planner(tmp_path: Path) -> None:
    grid = ExperimentGrid("m")
    grid.add("logger_kwargs:quiet", True)
    grid.keys[0] = "logger_kwargs:output_dir"
    with pytest.raises(PlanError, match=r"\[logger_kwargs:output_dir\] slc-tui sets each run"):
        plan_grid(grid, "m:f", data_dir=tmp_path)


def test_a_grid_file_passes_them_to_every_run(in_tmp: Path) -> None:
    params = (
        "seed = [0, 1]\n"
        '"logger_kwargs:use_tensorboard" = true\n'
        '"logger_kwargs:verbose_fmt" = "line"\n'
        '"logger_kwargs:verbose_vars" = [["AverageEpRet", "EpLen"]]\n'
    )
    grid = write_grid(in_tmp / "tb.toml", "tb", "record", params)
    res = subprocess.run(cli(str(grid), "--no-ui", "--max-cpus", "2"), capture_output=True,
                         text=True, stdin=subprocess.DEVNULL)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    out = in_tmp / "data" / "tb" / "tb_s1"
    got = _received(out)
    assert got["logger_kwargs"] == {
        "output_dir": str(out),
        "exp_name": "tb",
        "use_tensorboard": True,
        "verbose_fmt": "line",
        "verbose_vars": None,
    }
    records = {r.name: r for r in ledger("tb").runs()}
    assert records["tb_s1"].params == {
        "seed": 1,
        "logger_kwargs": {
            "use_tensorboard": True,
            "verbose_fmt": "line",
            "verbose_vars": ["AverageEpRet", "EpLen"],
        },
    }


@pytest.mark.parametrize("sub", ["output_dir", "exp_name"])
def test_a_grid_file_that_sets_the_runs_own_keys_exits_2(in_tmp: Path, sub: str) -> None:
    grid = write_grid(
        in_tmp / "own.toml", "own", "record", f'seed = 0\n"logger_kwargs:{sub}" = "x"'
    )
    for flag in ("--dry-run", "--no-ui"):
        res = subprocess.run(cli(str(grid), flag), capture_output=True, text=True,
                             stdin=subprocess.DEVNULL)  # fmt: skip
        assert res.returncode == 2
        assert res.stderr.startswith(
            f"slc-tui: {grid}:8: [params] logger_kwargs:{sub}: slc-tui sets each run's "
            f"logger_kwargs {sub} itself"
        ), res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
    assert not (in_tmp / "data").exists()


def test_experiment_grid_run_merges_them(in_tmp: Path) -> None:
    grid = ExperimentGrid("py")
    grid.add("seed", [3])
    grid.add("logger_kwargs:save_checkpoints", [True, False], shorthand="cp")
    grid.run("engine_thunks:record", data_dir="data", max_cpus=2)
    got = _received(in_tmp / "data" / "py_cp" / "py_cp_s3")
    assert got["logger_kwargs"] == {
        "output_dir": str(in_tmp / "data" / "py_cp" / "py_cp_s3"),
        "exp_name": "py_cp",
        "save_checkpoints": True,
    }
    assert _received(in_tmp / "data" / "py" / "py_s3")["logger_kwargs"]["save_checkpoints"] is False


def test_a_grid_with_them_is_written_to_a_grid_file_and_loads_back(tmp_path: Path) -> None:
    grid = ExperimentGrid("w")
    grid.add("lr", [0.1, 0.2])
    grid.add("logger_kwargs:use_tensorboard", True)
    grid.add("logger_kwargs:verbose_vars", [["AverageEpRet"], ["EpLen"]], shorthand="vv")
    text = to_toml(grid, "m:f", {"num_cpu": 1})
    assert '"logger_kwargs:use_tensorboard" = true\n' in text
    (tmp_path / "w.toml").write_text(text)
    back = load_grid(tmp_path / "w.toml", check_thunk=False).grid
    assert back.variants() == grid.variants()
    assert [back.variant_name(v) for v in back.variants()] == [
        grid.variant_name(v) for v in grid.variants()
    ]
