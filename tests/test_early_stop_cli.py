"""Early stopping through the command line, with real runs that write progress files: the
headless lines and summary show pruned runs with their reason, the sweep exits 0, --resume
leaves pruned runs alone, --dry-run shows the rule, and a bad [early_stop] is one line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from engine_helpers import cli, ledger, one_line_error, write_grid

pytestmark = pytest.mark.usefixtures("no_leftovers")

RULE = '[early_stop]\nrule = "median"\nmetric = "AverageEpRet"\ngrace = 2\nmin_variants = 3\n'
PARAMS = "score = [30.0, 20.0, 10.0, 0.0]\nseed = [0, 1]\nepochs = 10\nsecs = 0.2\nlong_below = 15"
"""Two good variants, then two poor ones that would run 10 s each if nothing stopped them."""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli(*args), capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=120)  # fmt: skip


def test_a_pruned_sweep_exits_0_says_why_and_resume_does_not_rerun_it(in_tmp: Path) -> None:
    grid = write_grid(in_tmp / "g.toml", "es", "curve", PARAMS, "\n" + RULE)
    res = _run(str(grid), "--no-ui", "--max-cpus", "2", "--order", "plan")
    assert res.returncode == 0, res.stdout + res.stderr
    pruned = [line for line in res.stdout.splitlines() if "  pruned" in line and "] es_" in line]
    # in plan order the variants run two seeds at a time, best first: the last two fall below
    # the median
    # (a variant's seeds may start at different times; the poor runs are long, so that no
    # seed of theirs ends before the rule decides)
    names = sorted(line.split()[1] for line in pruned)
    assert names == ["es_sco0-0_s0", "es_sco0-0_s1", "es_sco10-0_s0", "es_sco10-0_s1"]
    assert any("below the median of 3 variants at epoch 2: 10.5 < 20.5" in ln for ln in pruned)
    assert any("below the median of 4 variants at epoch 2: 0.5 < 15.5" in ln for ln in pruned)
    assert "8 runs: 4 succeeded, 4 pruned" in res.stdout
    view = ledger("es")
    before = {r.name: (r.state, r.attempt, r.reason) for r in view.runs()}
    view.close()
    again = _run(str(grid), "--no-ui", "--max-cpus", "2", "--resume")
    assert again.returncode == 0, again.stdout + again.stderr
    assert " started" not in again.stdout
    view = ledger("es")
    assert {r.name: (r.state, r.attempt, r.reason) for r in view.runs()} == before
    view.close()
    status = _run("status", str(grid))
    assert "✂ pruned" in status.stdout and "below the median" in status.stdout
    compared = _run("compare", str(grid))
    assert compared.returncode == 0, compared.stderr
    assert "pruned by [early_stop]" in compared.stdout
    assert "sco10-0: below the median of 3 variants at epoch 2" in compared.stdout


def test_dry_run_shows_the_rule(in_tmp: Path) -> None:
    grid = write_grid(in_tmp / "g.toml", "es", "curve", PARAMS, "\n" + RULE)
    res = _run(str(grid), "--dry-run")
    assert res.returncode == 0, res.stderr
    assert ("early stop: median: from epoch 2, stop a variant below the median of variants; "
            "judged on the mean over seeds of AverageEpRet (higher is better), once 3 variants "
            "reached the epoch; all seeds stop together") in res.stdout  # fmt: skip


@pytest.mark.parametrize(
    ("table", "says"),
    [
        (
            'rule = "best"\nmetric = "R"',
            ':7: [early_stop] rule: "best" is not a rule; use one of "median", "asha"',
        ),
        ('rule = "median"', ":6: [early_stop]: the key metric is missing"),
        ('rule = "median"\nmetric = "R"\ngrace = -1', ":9: [early_stop] grace: -1 is not a"),
        ('rule = "median"\nmetric = "R"\nmin_variants = 1', ":9: [early_stop] min_variants: 1 "),
        ('rule = "asha"\nmetric = "R"\neta = 1', ":9: [early_stop] eta: 1 is not a whole number"),
        (
            'rule = "median"\nmetric = "R"\ngrase = 1',
            ":9: [early_stop] grase: unknown key (did you mean grace?)",
        ),
    ],
)
def test_a_bad_early_stop_table_is_one_line_before_anything_runs(
    in_tmp: Path, table: str, says: str
) -> None:
    grid = write_grid(in_tmp / "g.toml", "es", "curve", "seed = 0", f"\n[early_stop]\n{table}")
    line = one_line_error(_run(str(grid), "--no-ui"))
    assert line.startswith("slc-tui: ") and f"g.toml{says}" in line, line
    assert not (in_tmp / "data").exists()


def test_a_misspelled_metric_is_said_once_and_nothing_is_pruned(in_tmp: Path) -> None:
    rule = RULE.replace('"AverageEpRet"', '"AverageEpRt"')
    params = PARAMS.replace("long_below = 15", "long_below = -1")  # no run is long
    grid = write_grid(in_tmp / "g.toml", "typo", "curve", params, "\n" + rule)
    res = _run(str(grid), "--no-ui", "--max-cpus", "2")
    assert res.returncode == 0, res.stdout + res.stderr
    said = "early stop of typo: the progress files have no column 'AverageEpRt', so nothing"
    assert (res.stdout + res.stderr).count(said) == 1, res.stderr
    assert "did you mean 'AverageEpRet'?" in res.stderr
    assert "8 runs: 8 succeeded" in res.stdout
