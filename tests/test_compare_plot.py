"""``slc-tui compare`` and ``slc-tui plot`` as commands (``python -m slc_tui``): on runs in
SpinningUp's own EpochLogger format, on stable-learning-control's ``progress.csv``, and on a
sweep's grid file; the pictures they write; and what each command imports."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import cli, write_grid

from slc_tui.sweep.ranking import CSV_COLUMNS

EPOCHS = 5
STEPS = 4000
"""SpinningUp's steps_per_epoch: TotalEnvInteracts grows by it each epoch."""
SPINUP_COLUMNS = ["Epoch", "AverageEpRet", "StdEpRet", "MaxEpRet", "MinEpRet", "EpLen",
                  "AverageVVals", "StdVVals", "MaxVVals", "MinVVals", "TotalEnvInteracts",
                  "LossPi", "LossV", "DeltaLossPi", "DeltaLossV", "Entropy", "KL", "ClipFrac",
                  "StopIter", "Time"]  # fmt: skip
"""The columns SpinningUp's PPO logs, in its order."""


def ret(hid: int, seed: int, epoch: int) -> float:
    """A made-up learning curve: bigger nets learn faster; seeds differ a little."""
    return round(20 + (hid / 8) * 30 * epoch + 7 * seed + 3 * np.sin(epoch + seed), 4)


def spinup_run(data: Path, exp_name: str, hid: int, seed: int, epochs: int = EPOCHS) -> Path:
    """A run folder as SpinningUp's EpochLogger leaves it: ``progress.txt`` (a header, then
    ``"\\t".join(map(str, vals))`` per epoch) and ``config.json`` (its save_config)."""
    out = data / exp_name / f"{exp_name}_s{seed}"
    out.mkdir(parents=True)
    lines = ["\t".join(SPINUP_COLUMNS)]
    for e in range(epochs):
        vals = {c: 0.5 for c in SPINUP_COLUMNS}
        vals.update(Epoch=e, AverageEpRet=ret(hid, seed, e), TotalEnvInteracts=STEPS * (e + 1),
                    Time=1.5 * (e + 1))  # fmt: skip
        lines.append("\t".join(str(vals[c]) for c in SPINUP_COLUMNS))
    (out / "progress.txt").write_text("\n".join(lines) + "\n")
    config = {"ac_kwargs": {"hidden_sizes": [hid, hid]}, "env_fn": "<function <lambda>>",
              "epochs": EPOCHS, "exp_name": exp_name, "gamma": 0.99, "seed": seed,
              "steps_per_epoch": STEPS,
              "logger_kwargs": {"exp_name": exp_name, "output_dir": str(out)}}  # fmt: skip
    text = json.dumps(config, separators=(",", ":\t"), indent=4, sort_keys=True)
    (out / "config.json").write_text(text)
    return out


@pytest.fixture
def spinup_data(tmp_path: Path) -> Path:
    """Two variants of three seeds; one seed of the second stopped at epoch 2 of 5."""
    data = tmp_path / "data"
    for hid in (8, 16):
        for seed in (0, 10, 20):
            stopped = hid == 16 and seed == 20
            spinup_run(data, f"ppo_hid{hid}", hid, seed, 3 if stopped else EPOCHS)
    return data


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli(*args), capture_output=True, text=True, cwd=cwd,
                          stdin=subprocess.DEVNULL, timeout=120)  # fmt: skip


def test_compare_ranks_spinningup_runs_and_leaves_the_stopped_seed_out(spinup_data: Path) -> None:
    res = run("compare", str(spinup_data), "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [d["variant"] for d in doc] == ["ppo_hid16", "ppo_hid8"]  # best mean first
    best = doc[0]
    finals = [ret(16, s, EPOCHS - 1) for s in (0, 10)]
    assert (best["seeds"], best["failed"], best["metric"], best["at"]) == (
        2,
        1,
        "AverageEpRet",
        "final",
    )
    assert best["mean"] == pytest.approx(np.mean(finals))
    assert best["std"] == pytest.approx(np.std(finals))
    assert best["median"] == pytest.approx(np.median(finals))
    assert best["iqm"] == pytest.approx(np.mean(finals))
    lo, hi = best["ci"]
    assert min(finals) <= lo <= best["mean"] <= hi <= max(finals)
    assert (
        "ppo_hid16_s20" in best["left_out"] and "stopped early" in best["left_out"]["ppo_hid16_s20"]
    )
    third = [ret(8, s, EPOCHS - 1) for s in (0, 10, 20)]
    assert doc[1]["mean"] == pytest.approx(np.mean(third)) and doc[1]["seeds"] == 3
    at = json.loads(
        run("compare", str(spinup_data), "--json", "--at", "TotalEnvInteracts=8000").stdout
    )
    by_name = {d["variant"]: d for d in at}
    assert by_name["ppo_hid8"]["mean"] == pytest.approx(
        np.mean([ret(8, s, 1) for s in (0, 10, 20)])
    )
    assert by_name["ppo_hid16"]["seeds"] == 2  # the stopped seed stays out at any point
    table = run("compare", str(spinup_data))
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert lines[0] == "data: AverageEpRet at the final epoch, over seeds"
    assert lines[1].split()[:3] == ["rank", "variant", "seeds"]
    assert lines[2].split()[:4] == ["1", "ppo_hid16", "2", "✘1"]
    assert "  ppo_hid16_s20: stopped early (epoch 2, 3 of 5 rows)" in lines
    rows = list(csv.reader(io.StringIO(run("compare", str(spinup_data), "--csv").stdout)))
    assert rows[0] == list(CSV_COLUMNS) and [r[1] for r in rows[1:]] == ["ppo_hid16", "ppo_hid8"]
    assert float(rows[1][CSV_COLUMNS.index("mean")]) == pytest.approx(np.mean(finals))


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _not_blank(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as img:
        pixels = np.asarray(img.convert("RGB"), dtype=float)
    ink = (pixels.min(axis=2) < 200).mean()  # the share of pixels that are not near-white
    colours = len({tuple(p) for p in pixels.reshape(-1, 3)[::7]})
    assert 0.01 < ink < 0.6, ink
    assert colours > 20  # lines, bands, text: many colours, not a flat picture


def test_plot_writes_a_paper_figure_of_spinningup_runs(spinup_data: Path, tmp_path: Path) -> None:
    png = tmp_path / "fig.png"
    res = run("plot", str(spinup_data), "-o", str(png))
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""  # -o given: nothing to say but warnings
    assert "left out ppo_hid16_s20 (stopped early" in res.stderr
    assert _png_size(png.read_bytes()) == (1280, 800)  # 6.4 x 4 inches at 200 dpi
    _not_blank(png)
    svg, pdf = tmp_path / "fig.svg", tmp_path / "fig.pdf"
    args = ["-x", "Epoch", "-y", "AverageEpRet", "LossPi", "--smooth", "3", "--band", "ci",
            "--est", "iqm", "--select", "hid", "--exclude", "hid8"]  # fmt: skip
    assert run("plot", str(spinup_data), *args, "-o", str(svg)).returncode == 0
    text = svg.read_text()
    assert text.startswith("<?xml") and "<svg" in text and "ppo_hid16 (n=2)" in text
    assert "ppo_hid8" not in text and "IQM with its 95% bootstrap CI" in text
    assert run("plot", str(spinup_data), "--count", "-o", str(pdf)).returncode == 0
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5000
    default = run("plot", str(spinup_data.parent / "data" / "ppo_hid"), cwd=tmp_path)  # a prefix
    assert default.returncode == 0, default.stderr
    assert default.stdout == "slc-tui: wrote data/data_AverageEpRet.png\n"  # where it went
    _not_blank(tmp_path / "data" / "data_AverageEpRet.png")
    bad = run("plot", str(spinup_data), "-o", str(tmp_path / "fig.jpg"))
    assert (
        bad.returncode == 2 and bad.stderr.count("\n") == 1 and ".png, .svg or .pdf" in bad.stderr
    )


def test_slc_progress_csv_compares_and_plots_by_its_test_return(tmp_path: Path) -> None:
    data = tmp_path / "slc"
    for seed in (0, 1, 2):
        out = data / "sac_lr3" / f"sac_lr3_s{seed}"
        out.mkdir(parents=True)
        head = (
            "Epoch,TotalEnvInteracts,AverageEpRet,StdEpRet,AverageTestEpRet,StdTestEpRet,Lr_a,Time"
        )
        rows = [
            f"{e},{1000 * (e + 1)},{e * 2.0},1.0,{e * 10.0 + seed},0.5,0.001,{e}" for e in range(4)
        ]
        (out / "progress.csv").write_text("\n".join([head, *rows]) + "\n")
        (out / "config.json").write_text(
            json.dumps({"exp_name": "sac_lr3", "seed": seed, "epochs": 4})
        )
    doc = json.loads(run("compare", str(data), "--json").stdout)
    assert doc[0]["metric"] == "AverageTestEpRet" and doc[0]["seeds"] == 3
    assert doc[0]["mean"] == pytest.approx(np.mean([30.0, 31.0, 32.0]))
    png = tmp_path / "slc.png"
    res = run("plot", str(data), "-o", str(png))
    assert res.returncode == 0, res.stderr
    _png_size(png.read_bytes())
    _not_blank(png)


@pytest.mark.usefixtures("no_leftovers")
def test_a_sweeps_summary_ranks_and_compare_reads_its_ledger(in_tmp: Path) -> None:
    grid = write_grid(in_tmp / "g.toml", "st", "fail_if_file", "seed = [0, 1, 2]")
    (in_tmp / "bad_seed_2").touch()
    code = (
        "import sys; from slc_tui.cli import main; rc = main(sys.argv[1:]); "
        "bad = [m for m in ('textual', 'matplotlib') if m in sys.modules]; "
        "assert not bad, bad; print('clean', rc)"
    )
    res = subprocess.run([sys.executable, "-c", code, str(grid), "--no-ui"], capture_output=True,
                         text=True, stdin=subprocess.DEVNULL)  # fmt: skip
    assert "clean 1" in res.stdout, res.stdout + res.stderr  # one run failed: exit 1
    tail = res.stdout.split("3 runs: 2 succeeded, 1 failed\n", 1)[1].splitlines()
    assert tail[1] == "top variants by AverageEpRet at the final epoch (mean ± std over seeds):"
    assert tail[2] == "  1. st  10.5 ± 0.5  (2 seeds, 1 failed left out)"
    for args in (["compare", str(grid)], ["compare", str(grid), "--json"], ["status", str(grid)]):
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
        assert "clean 0" in out.stdout, out.stderr  # neither Textual nor matplotlib
    doc = json.loads(run("compare", str(grid), "--json").stdout)
    assert (doc[0]["seeds"], doc[0]["failed"], doc[0]["mean"]) == (2, 1, 10.5)
    assert doc[0]["left_out"]["st_s2"].startswith("failed: ValueError: seed 2 is marked bad")
    data_dir = json.loads(run("compare", "data", "--json").stdout)  # the sweep's data_dir
    assert data_dir == doc


def test_bad_targets_and_flags_are_one_line(tmp_path: Path) -> None:
    for args in (["compare", str(tmp_path / "nowhere")], ["compare", str(tmp_path)],
                 ["compare", str(tmp_path), "--at", "last"], ["plot", str(tmp_path), "-s", "0"],
                 ["compare"], ["plot", str(tmp_path), "--band", "sem"]):  # fmt: skip
        res = run(*args)
        assert res.returncode == 2, (args, res.stdout, res.stderr)
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "no runs found" in run("compare", str(tmp_path)).stderr
