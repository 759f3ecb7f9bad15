"""Every bundled grid through the real command line: its plan, and a short real run."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from engine_helpers import cli

GRIDS = sorted((Path(__file__).parents[1] / "grids").glob("*.toml"))
EXPECTED = {  # grid file -> (exit status, runs, failed runs)
    "sweep.toml": (0, 24, 0),
    "mpi.toml": (0, 4, 0),
    "failing.toml": (1, 12, 10),
    "search.toml": (0, 18, 0),
}


@pytest.mark.parametrize("grid", GRIDS, ids=lambda p: p.name)
def test_every_grid_plans(grid: Path, in_tmp: Path) -> None:
    res = subprocess.run(cli(str(grid), "--dry-run", "--max-cpus", "2"), capture_output=True,
                         text=True)  # fmt: skip
    assert res.returncode == 0, res.stderr
    runs = EXPECTED[grid.name][1]
    assert f"({runs} runs," in res.stdout
    assert "Nothing was run (--dry-run)." in res.stdout
    assert not Path("data").exists()


@pytest.mark.slow
@pytest.mark.parametrize("grid", GRIDS, ids=lambda p: p.name)
def test_every_grid_runs_for_a_few_epochs(grid: Path, in_tmp: Path) -> None:
    short = in_tmp / grid.name
    short.write_text(re.sub(r"(?m)^epochs = \d+", "epochs = 4", grid.read_text()))
    res = subprocess.run(cli(str(short), "--no-ui", "--max-cpus", "2"), capture_output=True,
                         text=True)  # fmt: skip
    status, runs, failed = EXPECTED[grid.name]
    assert res.returncode == status, res.stdout[-3000:] + res.stderr
    doc = json.loads(subprocess.run(cli("status", str(short), "--json"), capture_output=True,
                                    text=True).stdout)  # fmt: skip
    assert len(doc["runs"]) == runs
    assert doc["counts"]["failed"] == failed
    for run in doc["runs"]:
        if run["state"] == "succeeded":
            assert run["epoch"] == 3
            rows = Path(run["output_dir"], "progress.txt").read_text().splitlines()
            assert len(rows) == 5  # header + 4 epochs (failing.toml crashes at epoch 3)
        else:
            assert run["reason"]  # every failure says why
