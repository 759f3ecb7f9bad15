"""The bundled examples: CEM learns, is reproducible, runs as 2 MPI ranks; the grids fit them."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest

from slc_tui.examples import cem, faulty
from slc_tui.launch import run_command, run_env
from slc_tui.payload import Payload, write_payload
from slc_tui.thunks import resolve

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

GRIDS = sorted((Path(__file__).parent.parent / "grids").glob("*.toml"))
COLUMNS = ["Epoch", "AverageEpRet", "StdEpRet", "MaxEpRet", "MinEpRet", "EpLen"]
COLUMNS += ["TotalEnvInteracts", "Time"]


def cartpole() -> Any:
    return gym.make("CartPole-v1")


def progress(out: Path) -> list[dict[str, str]]:
    header, *rows = (line.split("\t") for line in (out / "progress.txt").read_text().splitlines())
    return [dict(zip(header, row)) for row in rows]


def column(rows: list[dict[str, str]], key: str) -> list[float]:
    return [float(r[key]) for r in rows]


def train_here(out: Path, thunk: Any = cem.train, **kwargs: Any) -> list[dict[str, str]]:
    thunk(cartpole, logger_kwargs={"output_dir": str(out), "quiet": True}, **kwargs)
    return progress(out)


def without(rows: list[dict[str, str]], *keys: str) -> list[dict[str, str]]:
    return [{k: v for k, v in r.items() if k not in keys} for r in rows]


def test_cem_learns_cartpole(tmp_path: Path) -> None:
    rows = train_here(tmp_path, seed=0, epochs=12, pop_size=32)
    returns = column(rows, "AverageEpRet")
    assert len(rows) == 12
    assert returns[0] < 40
    assert returns[-1] > 200 and returns[-1] > 5 * returns[0]
    assert column(rows, "TotalEnvInteracts") == sorted(column(rows, "TotalEnvInteracts"))


def test_files_have_the_reference_format(tmp_path: Path) -> None:
    cem.train(cartpole, seed=5, logger_kwargs={"output_dir": str(tmp_path), "exp_name": "e"},
              epochs=2, pop_size=4)  # fmt: skip
    lines = (tmp_path / "progress.txt").read_text().splitlines()
    header = lines[0].split("\t")
    assert header[:6] == COLUMNS[:6] and header[-1] == "Time"
    assert set(COLUMNS) <= set(header) and len(lines) == 3
    assert all(len(line.split("\t")) == len(header) for line in lines)
    assert [r["Epoch"] for r in progress(tmp_path)] == ["0", "1"]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["seed"] == 5 and config["pop_size"] == 4 and config["exp_name"] == "e"


def test_same_seed_same_results(tmp_path: Path) -> None:
    a = train_here(tmp_path / "a", seed=3, epochs=3, pop_size=8, hidden=4)
    b = train_here(tmp_path / "b", seed=3, epochs=3, pop_size=8, hidden=4)
    c = train_here(tmp_path / "c", seed=4, epochs=3, pop_size=8, hidden=4)
    assert without(a, "Time") == without(b, "Time")
    assert without(a, "Time") != without(c, "Time")


def test_continuous_actions(tmp_path: Path) -> None:
    cem.train(lambda: gym.make("Pendulum-v1"), logger_kwargs={"output_dir": str(tmp_path),
              "quiet": True}, epochs=1, pop_size=5, max_ep_len=20)  # fmt: skip
    rows = progress(tmp_path)
    assert column(rows, "EpLen") == [20.0] and column(rows, "AverageEpRet")[0] < 0


@pytest.mark.parametrize(
    ("hparams", "message"),
    [
        ({"elite_frac": 1.5}, r"elite_frac=1.5 must lie in \(0, 1\]"),
        ({"elite_frac": 0.01, "pop_size": 16}, "keeps no candidate of pop_size=16"),
        ({"pop_size": 1}, "at least 2 candidates"),
        ({"epochs": 0}, "at least one epoch"),
        ({"noise": -1.0}, "must not be negative"),
    ],
)
def test_bad_hyperparameters_raise(tmp_path: Path, hparams: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cem.train(cartpole, logger_kwargs={"output_dir": str(tmp_path / "run")}, **hparams)
    assert not (tmp_path / "run").exists()  # checked before anything is written


def test_faulty_fails_in_the_chosen_rank_and_epoch(tmp_path: Path) -> None:
    with pytest.raises(faulty.InjectedFailure, match="rank 0 crashed at epoch 2"):
        train_here(tmp_path, faulty.train, crash_mode="raise", crash_epoch=2, pop_size=4)
    rows = train_here(tmp_path / "ok", faulty.train, crash_rank=1, crash_mode="raise", epochs=3)
    assert len(rows) == 3  # a single-process run has no rank 1
    assert len(progress(tmp_path)) == 2
    with pytest.raises(ValueError, match="crash_mode='boom' must be one of"):
        faulty.train(cartpole, crash_mode="boom")


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "IN_MPI"))}


def launch(
    tmp_path: Path, name: str, num_cpu: int, thunk: str = "slc_tui.examples.cem:train", **kw: Any
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run a thunk as slc-tui's engine does: a payload file and the run command."""
    out = tmp_path / name
    kwargs = {"env_name": "CartPole-v1", "logger_kwargs": {"output_dir": str(out)}, **kw}
    write_payload(tmp_path / f"{name}.pkl", Payload(thunk, kwargs))
    proc = subprocess.run(
        run_command(tmp_path / f"{name}.pkl", num_cpu),
        env=run_env(num_cpu, clean_env()),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc, out


def test_two_mpi_ranks_log_once_and_reproduce(tmp_path: Path) -> None:
    hp: dict[str, Any] = {"seed": 7, "epochs": 4, "pop_size": 12}
    runs = [launch(tmp_path, name, n, **hp) for name, n in (("a", 2), ("b", 2), ("one", 1))]
    for proc, _ in runs:
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.count("Logging data to") == 1  # rank 0 only
        assert proc.stdout.count("Epoch 3 |") == 1
    (_, a), (_, b), (_, one) = runs
    assert sorted(p.name for p in a.iterdir()) == ["config.json", "progress.txt"]
    rows_a, rows_b, rows_one = progress(a), progress(b), progress(one)
    assert len(rows_a) == 4 and column(rows_a, "NumRanks") == [2.0] * 4
    assert without(rows_a, "Time") == without(rows_b, "Time")
    # The ranks split the population: a run's results depend on its seed, not its rank count.
    for key in ("AverageEpRet", "MaxEpRet", "EliteEpRet", "PolicyStd", "TotalEnvInteracts"):
        assert column(rows_a, key) == pytest.approx(column(rows_one, key), rel=1e-12)


@pytest.mark.parametrize("mode", ["raise", "exit"])
def test_crash_in_one_mpi_rank_ends_the_run(tmp_path: Path, mode: str) -> None:
    hp = {"epochs": 6, "pop_size": 8, "crash_rank": 1, "crash_epoch": 2, "crash_mode": mode}
    proc, out = launch(tmp_path, "crash", 2, "slc_tui.examples.faulty:train", **hp)
    assert proc.returncode != 0
    # Epochs 0 and 1 complete; rank 0 may be killed before it writes epoch 1's row.
    assert 1 <= len(progress(out)) <= 2
    if mode == "raise":
        assert "InjectedFailure: rank 1 crashed at epoch 2" in proc.stderr


def grid_runs(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The grid table and every run's parameters, as the grid file plans them."""
    from slc_tui.gridfile import load_grid
    from slc_tui.plan import plan_specs

    (plan,) = plan_specs([load_grid(path, check_thunk=False)])
    return tomllib.loads(path.read_text())["grid"], [run.params for run in plan.runs]


@pytest.mark.parametrize("path", GRIDS, ids=lambda p: p.name)
def test_grid_parameters_fit_their_thunk(path: Path) -> None:
    grid, variants = grid_runs(path)
    thunk = resolve(grid["thunk"])
    accepted = set(inspect.signature(thunk).parameters) | set(
        inspect.signature(cem.train).parameters
    )
    assert grid["data_dir"] == "data" and len(variants) >= 4
    for params in variants:
        assert {"env_name", "seed"} <= set(params)
        assert set(params) - {"env_name"} <= accepted


def test_grid_files_exist() -> None:
    assert {p.name for p in GRIDS} >= {"sweep.toml", "mpi.toml", "failing.toml"}


@pytest.mark.slow
@pytest.mark.parametrize("path", GRIDS, ids=lambda p: p.name)
def test_every_variant_of_every_grid_runs(tmp_path: Path, path: Path) -> None:
    grid, variants = grid_runs(path)
    for i, params in enumerate(variants):
        if params.get("epochs", 0) > 3 and "crash_mode" not in params:
            params["epochs"] = 3
        proc, out = launch(tmp_path, f"v{i}", grid["num_cpu"], grid["thunk"], **params)
        should_fail = (
            params.get("elite_frac", 0.2) > 1 or params.get("crash_mode", "none") != "none"
        )
        assert (proc.returncode != 0) == should_fail, (params, proc.stderr[-2000:])
        if not should_fail:
            assert len(progress(out)) == params["epochs"]
