"""The other forms of a sweep on the command line: ``slc-tui run`` (spinup.run's grammar)
and ``slc-tui EXP_CFG.yml`` (a stable-learning-control experiment file)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from engine_helpers import THUNKS, cli

from slc_tui.experiment import setup_logger_kwargs
from slc_tui.gridfile import load_grid
from slc_tui.run_utils import ExperimentGrid

pytestmark = pytest.mark.usefixtures("no_leftovers")


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli(*args), capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          cwd=cwd, timeout=120)  # fmt: skip


def _folders(names: list[str], exp: str) -> list[str]:
    return sorted(setup_logger_kwargs(exp, s, "data")["output_dir"] for s in names)


def test_run_builds_the_reference_grid_and_runs_it(in_tmp: Path) -> None:
    res = _run("run", f"{THUNKS}:work", "--seed", "0", "1", "--secs", "0.01", "--lr[l]",
               "0.1", "0.2", "--no-ui", "--max-cpus", "1")  # fmt: skip
    assert res.returncode == 0, res.stderr
    eg = ExperimentGrid("cmd_work")
    eg.add("seed", [0, 1])
    eg.add("secs", 0.01)
    eg.add("lr", [0.1, 0.2], shorthand="l")
    names = [eg.variant_name(v) for v in eg.variants()]
    assert sorted(set(names)) == ["cmd_work_l0-1", "cmd_work_l0-2"]
    for variant in eg.variants():
        name = eg.variant_name(variant)
        out = Path(setup_logger_kwargs(name, variant["seed"], "data")["output_dir"])
        assert (out / "output.log").exists(), out
    assert "4 runs: 4 succeeded" in res.stdout


def test_run_with_save_grid_writes_a_grid_file_that_status_finds(in_tmp: Path) -> None:
    res = _run("run", f"{THUNKS}:work", "--seed", "0", "--secs", "0.01", "--save-grid",
               "g.toml", "--no-ui")  # fmt: skip
    assert res.returncode == 0, res.stderr
    spec = load_grid("g.toml")
    assert spec.name == "cmd_work" and spec.thunk.endswith("engine_thunks.py:work")
    status = _run("status", "g.toml")
    assert "cmd_work_s0" in status.stdout and "1 runs: 1 succeeded" in status.stdout


def test_run_takes_one_word_options_before_thunk(in_tmp: Path) -> None:
    res = _run("run", "--retries", "1", f"{THUNKS}:flaky", "--seed", "0", "--no-ui")
    assert res.returncode == 0, res.stderr
    assert "retrying (attempt 2)" in res.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["run", "no_such_module:f", "--seed", "0", "--dry-run"], "cannot be imported"),
        (["run", f"{THUNKS}:work", "--hid", "[32,32", "--dry-run"], "--hid"),
        (["run", "--dry-run"], "THUNK"),
    ],
)
def test_run_refuses_bad_words_in_one_line(in_tmp: Path, args: list[str], words: str) -> None:
    res = _run(*args)
    assert res.returncode == 2
    assert words in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not Path("data").exists()


def test_an_experiment_file_runs_with_slcs_names(in_tmp: Path) -> None:
    (in_tmp / "exp.yml").write_text(
        f"alg_name: {THUNKS}:work\nseed: '0 1'\nsecs: 0.01\nlr: '0.1, 0.2'\n"
    )
    dry = _run("exp.yml", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    res = _run("exp.yml", "--no-ui", "--max-cpus", "1")
    assert res.returncode == 0, res.stderr
    assert "4 runs: 4 succeeded" in res.stdout
    for lr in ("0-1", "0-2"):
        exp = f"cmd_work_lr{lr}"
        assert exp in dry.stdout
        for folder in _folders(["0", "1"], exp):
            assert Path(folder, "output.log").exists()


def test_an_experiment_file_is_a_sweep_like_a_grid_file(in_tmp: Path) -> None:
    """status, --resume and a run together with a TOML grid file work on an exp_cfg file."""
    (in_tmp / "exp.yml").write_text(f"alg_name: {THUNKS}:work\nseed: '0 1'\nsecs: 0.01\n")
    (in_tmp / "g.toml").write_text(
        f'[grid]\nname = "other"\nthunk = "{THUNKS}:work"\ndata_dir = "data"\n'
        "[params]\nseed = 0\nsecs = 0.01\n"
    )
    res = _run("exp.yml", "g.toml", "--no-ui", "--max-cpus", "2")
    assert res.returncode == 0, res.stderr
    assert "3 runs: 3 succeeded" in res.stdout
    status = _run("status", "exp.yml")
    assert status.returncode == 0, status.stderr
    assert "cmd_work_s0" in status.stdout and "2 runs: 2 succeeded" in status.stdout
    again = _run("exp.yml", "--no-ui", "--resume")
    assert again.returncode == 0 and "started" not in again.stdout
