"""The command line: headless output and exit statuses, dry-run, status, bad input, help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from engine_helpers import cli, write_grid
from engine_thunks import raised_at

pytestmark = pytest.mark.usefixtures("no_leftovers")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli(*args), capture_output=True, text=True, stdin=subprocess.DEVNULL)


def test_headless_prints_events_and_a_summary_and_exits_0(in_tmp: Path) -> None:
    grid = write_grid(in_tmp / "ok.toml", "ok", "work", "seed = [0, 1]\nsecs = 0.05")
    res = _run(str(grid), "--no-ui", "--max-cpus", "2")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "ok_s0  started (pid " in res.stdout
    assert "ok_s1  succeeded in " in res.stdout
    assert "\x1b[" not in res.stdout  # no colour without a terminal
    assert "2 runs: 2 succeeded" in res.stdout
    assert "ok_s0 " in res.stdout.split("run ")[-1]  # the final table lists the runs
    assert Path("data/ok/ok_s0/output.log").read_text() == "done seed=0\n"


def test_a_failed_run_gives_exit_1_with_its_reason(in_tmp: Path) -> None:
    grid = write_grid(in_tmp / "bad.toml", "bad", "fail", "seed = [4]")
    res = _run(str(grid), "--no-ui")
    assert res.returncode == 1
    assert "bad_s4  failed in " in res.stdout
    reason = f"ValueError: bad hyperparameter for seed 4 (at {raised_at('fail')})"
    assert f"{reason} (exit 1)" in res.stdout


def test_no_terminal_means_headless_and_says_so(in_tmp: Path) -> None:
    grid = write_grid(in_tmp / "ok.toml", "auto", "nothing", "seed = 0")
    res = _run(str(grid))
    assert res.returncode == 0
    assert "no terminal: running headless" in res.stderr


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[grid]\nname = 'x'\n", "[params]"),
        ("[grid]\nname = 'x'\nthunk = 'nope_module_xyz:f'\n[params]\na = 1\n", "nope_module_xyz"),
        ("[grid\n", "g.toml:1:6: TOML syntax error"),
    ],
)
def test_bad_grid_files_exit_2_and_create_nothing(in_tmp: Path, body: str, message: str) -> None:
    (in_tmp / "g.toml").write_text(body)
    res = _run("g.toml", "--no-ui")
    assert res.returncode == 2
    assert message in res.stderr
    assert "g.toml" in res.stderr
    assert "Traceback" not in res.stderr
    assert not Path("data").exists()


def test_a_run_beyond_the_budget_exits_2(in_tmp: Path) -> None:
    grid = write_grid(in_tmp / "big.toml", "big", "work", "seed = 0", "num_cpu = 4")
    res = _run(str(grid), "--no-ui", "--max-cpus", "2")
    assert res.returncode == 2
    assert "needs 4 CPUs but the CPU budget is 2" in res.stderr
    assert not Path("data").exists()


def test_two_runs_sharing_an_output_dir_exit_2(in_tmp: Path) -> None:
    grid = write_grid(in_tmp / "dup.toml", "dup", "work", 'lr = [0.1, "0.1"]')
    res = _run(str(grid), "--dry-run")
    assert res.returncode == 2
    assert "would share the output directory" in res.stderr


def test_dry_run_prints_the_tree_and_packing_and_runs_nothing(in_tmp: Path) -> None:
    grid = write_grid(in_tmp / "d.toml", "dry", "work", "seed = [0, 10]\nlr = [0.1, 0.2]")
    res = _run(str(grid), "--dry-run", "--max-cpus", "2")
    assert res.returncode == 0
    out = res.stdout
    assert "dry  (4 runs, 2 variants" in out
    assert "├─ dry_lr0-1  (2 runs, 1 rank each)" in out
    assert "dry_lr0-1_s10  data/dry_lr0-1/dry_lr0-1_s10" in out
    assert "CPU budget: 2 cpus" in out and "4 runs in 2 waves" in out
    assert not Path("data").exists()


def test_status_shows_a_finished_sweep_as_table_and_json(in_tmp: Path) -> None:
    grid = write_grid(in_tmp / "s.toml", "st", "fail_if_file", "seed = [0, 1]")
    Path("bad_seed_1").touch()
    assert _run(str(grid), "--no-ui").returncode == 1
    table = _run("status", str(grid))
    assert table.returncode == 0
    assert "st: engine finished" in table.stdout
    assert "st_s1  ✘ failed" in table.stdout and "ValueError: seed 1 is marked bad" in table.stdout
    doc = json.loads(_run("status", str(grid), "--json").stdout)
    assert doc["counts"]["succeeded"] == 1 and doc["counts"]["failed"] == 1
    assert [r["name"] for r in doc["runs"]] == ["st_s0", "st_s1"]


def test_status_of_a_grid_that_never_ran_exits_2(in_tmp: Path) -> None:
    grid = write_grid(in_tmp / "n.toml", "never", "work", "seed = 0")
    res = _run("status", str(grid))
    assert res.returncode == 2
    assert "no sweep of grid 'never' has run" in res.stderr


def test_help_lists_every_flag_and_command() -> None:
    res = _run("--help")
    assert res.returncode == 0
    for word in ("--no-ui", "--dry-run", "--max-cpus", "--resume", "--retries", "--timeout",
                 "--fail-fast", "--backend", "attach GRID.toml", "status GRID.toml"):  # fmt: skip
        assert word in res.stdout
    flat = " ".join(res.stdout.split())
    assert "--all with --dry-run: print every run, even of a sweep of more than 1000 runs" in flat
    assert "locally at most 64 per CPU of this machine unless --oversubscribe" in flat


def test_usage_errors_exit_2() -> None:
    assert _run().returncode == 2
    assert _run("g.toml", "--max-cpus", "0").returncode == 2


@pytest.mark.parametrize(
    "args",
    [[], ["g.toml", "--max-cpus", "0"], ["g.toml", "--bogus"], ["status"], ["stop", "a", "b"]],
)
def test_usage_errors_are_one_line(args: list[str]) -> None:
    res = _run(*args)
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "--help)" in res.stderr, res.stderr


@pytest.mark.parametrize("args", [["--no-ui"], ["--dry-run"]])
def test_headless_paths_never_import_textual(in_tmp: Path, args: list[str]) -> None:
    grid = write_grid(in_tmp / "t.toml", "tx", "nothing", "seed = 0")
    code = (
        "import sys; from slc_tui.cli import main; rc = main(sys.argv[1:]); "
        "assert 'textual' not in sys.modules, 'textual imported'; print('clean', rc)"
    )
    res = subprocess.run([sys.executable, "-c", code, str(grid), *args], capture_output=True,
                         text=True, stdin=subprocess.DEVNULL)  # fmt: skip
    assert "clean 0" in res.stdout, res.stderr
    if args != ["--no-ui"]:
        return
    status = subprocess.run([sys.executable, "-c", code.replace("main(sys.argv[1:])",
                             "main(['status', sys.argv[1]])"), str(grid)],
                            capture_output=True, text=True)  # fmt: skip
    assert "clean 0" in status.stdout, status.stderr


def test_an_engine_starts_without_numpy(in_tmp: Path) -> None:
    """numpy (0.15 s here) is for the statistics at the end and for searches, not the start."""
    grid = write_grid(in_tmp / "t.toml", "np", "nothing", "seed = 0")
    code = (
        "import sys; from slc_tui.sweep.prepare import from_files; "
        "from slc_tui.states import Resume; "
        "engine = from_files([sys.argv[1]]).engine(Resume.ALL); engine.prepare(); "
        "assert 'numpy' not in sys.modules, 'numpy imported'; print('clean')"
    )
    res = subprocess.run([sys.executable, "-c", code, str(grid)], capture_output=True,
                         text=True, stdin=subprocess.DEVNULL)  # fmt: skip
    assert "clean" in res.stdout, res.stderr


def test_grid_files_run_together_must_agree_on_sweep_wide_settings(in_tmp: Path) -> None:
    one = write_grid(in_tmp / "a.toml", "ga", "nothing", "seed = 0", "\n[run]\nmax_cpus = 1")
    two = write_grid(in_tmp / "b.toml", "gb", "nothing", "seed = 0", "\n[run]\nmax_cpus = 2")
    res = _run(str(one), str(two), "--dry-run")
    assert res.returncode == 2
    assert "b.toml" in res.stderr and "[run] max_cpus: 2 differs from 1 in" in res.stderr
    assert _run(str(one), str(two), "--dry-run", "--max-cpus", "2").returncode == 0


def test_dry_run_on_slurm_speaks_of_the_cluster_not_local_cores(in_tmp: Path) -> None:
    grid = write_grid(in_tmp / "s.toml", "sl", "work", "seed = [0, 1]", "num_cpu = 2")
    res = _run(str(grid), "--dry-run", "--backend", "slurm")
    assert res.returncode == 0, res.stderr
    assert "no limit of slc-tui's own on the cluster" in res.stdout
    assert "(cores" not in res.stdout
    res = _run(str(grid), "--dry-run", "--backend", "slurm", "--max-cpus", "2")
    assert "CPU budget: 2 cpus of the cluster" in res.stdout
