"""Seed statistics against numpy, on progress files written by hand: unequal lengths, a seed
that failed part-way, NaN cells, a column one seed lacks; and the points (final, best, an
epoch, a column's value), the bootstrap interval, and the curves' bands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from slc_tui.engine.ledger import RunRecord
from slc_tui.seed_curves import band, curve_of, smooth
from slc_tui.states import RunState
from slc_tui.stats import At, aggregate, bootstrap_band, bootstrap_ci, iqm, parse_at
from slc_tui.sweep.ranking import compare, ranks
from slc_tui.sweep.results import from_records, gather, seeds_of


def write_run(root: Path, variant: str, seed: int, rows: list[dict[str, float | str]],
              epochs: int | None = None, csv: bool = False) -> Path:  # fmt: skip
    """A run folder: ``progress.txt`` (tabs) or ``progress.csv`` (commas), and config.json."""
    out = root / variant / f"{variant}_s{seed}"
    out.mkdir(parents=True)
    cols = list(dict.fromkeys(c for r in rows for c in r))
    sep = "," if csv else "\t"
    lines = [sep.join(cols)] + [sep.join(str(r.get(c, "")) for c in cols) for r in rows]
    (out / ("progress.csv" if csv else "progress.txt")).write_text("\n".join(lines) + "\n")
    config = {"exp_name": variant, "seed": seed, **({"epochs": epochs} if epochs else {})}
    (out / "config.json").write_text(json.dumps(config))
    return out


def rets(values: list[float | str], **extra: list[float]) -> list[dict[str, float | str]]:
    rows: list[dict[str, float | str]] = []
    for e, v in enumerate(values):
        row: dict[str, float | str] = {"Epoch": e, "AverageEpRet": v}
        row.update({k: vs[e] for k, vs in extra.items()})
        rows.append(row)
    return rows


def test_aggregates_are_numpys() -> None:
    values = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6, 5.0, 3.5]
    s = aggregate(values)
    a = np.array(values)
    assert s.n == 8
    assert s.mean == pytest.approx(np.mean(a)) and s.median == pytest.approx(np.median(a))
    assert s.std == pytest.approx(np.std(a))  # ddof 0, numpy's default
    assert s.iqm == pytest.approx(np.mean(np.sort(a)[2:6]))  # the middle 50%
    assert iqm([5.0, 1.0, 100.0, 2.0, 3.0]) == pytest.approx(np.mean([2.0, 3.0, 5.0]))
    assert iqm([1.0, 2.0, 30.0]) == pytest.approx(11.0)  # n < 4: nothing to cut
    assert aggregate([]).mean is None and aggregate([]).ci is None
    one = aggregate([7.0])
    assert (one.mean, one.std, one.ci) == (7.0, 0.0, None)  # one seed: no interval


def test_the_bootstrap_interval_is_fixed_and_is_the_percentile_one() -> None:
    values = np.array([12.0, 15.0, 9.0, 20.0, 14.0])
    ci = bootstrap_ci(values)
    assert ci == bootstrap_ci(list(values))  # the same data, the same interval
    picks = np.random.default_rng(0).integers(0, 5, size=(2000, 5))
    lo, hi = np.percentile(values[picks].mean(axis=1), [2.5, 97.5])
    assert ci == (pytest.approx(lo), pytest.approx(hi))
    assert ci is not None and ci[0] < values.mean() < ci[1]
    assert ci[0] >= values.min() and ci[1] <= values.max()
    seeds_by_points = np.array([values, values * 2]).T  # 5 seeds, 2 points
    got = bootstrap_band(seeds_by_points)  # one interval per point
    assert got is not None
    los, his = got
    assert (float(los[0]), float(his[0])) == pytest.approx(ci)
    assert (float(los[1]), float(his[1])) == pytest.approx(bootstrap_ci(values * 2))


def test_a_folder_of_runs_unequal_lengths_a_failed_seed_nan_and_a_missing_column(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    loss = [0.5, 0.4, 0.3, 0.2]
    write_run(data, "algo_lr1", 0, rets([1, 5, 9, 12], LossPi=loss), epochs=4)
    write_run(data, "algo_lr1", 1, rets([2, 6, 10, "nan"], LossPi=loss), epochs=4)  # NaN last
    write_run(data, "algo_lr1", 2, rets([3, 7, 11, 14]), epochs=4)  # no LossPi column
    write_run(data, "algo_lr1", 3, rets([50, 60]), epochs=4)  # failed part-way: 2 of 4 epochs
    write_run(data, "algo_lr2", 0, rets([0, 1, 2]))  # no planned epochs: lengths decide
    write_run(data, "algo_lr2", 1, rets([1, 2, 4]))
    runs = gather([data])
    assert len(runs) == 6 and {r.variant for r in runs} == {"algo_lr1", "algo_lr2"}
    found = compare(runs)
    assert found.metric == "AverageEpRet"
    lr1, lr2 = found.variants
    assert lr1.variant == "algo_lr1" and lr1.grid == "data"
    finals = [12.0, 10.0, 14.0]  # seed 1's last finite value; seed 3 is out
    assert (lr1.runs, lr1.seeds, lr1.failed, lr1.missing) == (4, 3, 1, 0)
    assert lr1.stats.mean == pytest.approx(np.mean(finals))
    assert lr1.stats.std == pytest.approx(np.std(finals))
    assert lr1.stats.median == pytest.approx(np.median(finals))
    assert lr1.left_out == {"algo_lr1_s3": "stopped early (epoch 1, 2 of 4 rows)"}
    assert lr2.stats.mean == pytest.approx(np.mean([2.0, 4.0]))
    loss_pi = compare(runs, "LossPi").variants[0]  # one seed lacks the column: it is missing
    assert (loss_pi.seeds, loss_pi.missing, loss_pi.failed) == (2, 1, 1)
    assert loss_pi.left_out["algo_lr1_s2"] == "no LossPi column"
    assert loss_pi.stats.mean == pytest.approx(0.2)
    at_2 = compare(runs, at=parse_at("2")).variants  # epoch 2: every counted seed has it
    assert at_2[0].stats.mean == pytest.approx(np.mean([9, 10, 11]))
    assert at_2[0].values == {"algo_lr1_s0": 9.0, "algo_lr1_s1": 10.0, "algo_lr1_s2": 11.0}
    at_3 = compare(runs, at=parse_at("3")).variants[0]  # epoch 3: seed 1's cell is NaN
    assert (at_3.seeds, at_3.missing) == (2, 1) and at_3.stats.mean == pytest.approx(13.0)
    by_x = compare(runs, at=parse_at("Epoch=1.5")).variants[0]  # interpolated between rows
    assert by_x.stats.mean == pytest.approx(np.mean([7.0, 8.0, 9.0]))


def test_best_is_the_epoch_where_the_variants_mean_is_highest(tmp_path: Path) -> None:
    write_run(tmp_path, "v", 0, rets([1, 9, 4]))
    write_run(tmp_path, "v", 1, rets([2, 3, 8]))
    best = compare(gather([tmp_path]), at=At("best")).variants[0]
    means = [np.mean([1, 2]), np.mean([9, 3]), np.mean([4, 8])]
    assert best.epoch == float(np.argmax(means)) == 1.0  # one epoch for both seeds
    assert best.stats.mean == pytest.approx(max(means))  # not the seeds' own best (9 and 8)
    assert best.at == "best"


def test_a_ledgers_states_decide_failed_and_running(tmp_path: Path) -> None:
    outs = [write_run(tmp_path, "g_v", s, rets([s, s + 1.0])) for s in range(4)]
    states = [RunState.SUCCEEDED, RunState.FAILED, RunState.RUNNING, RunState.CANCELLED]
    records = [RunRecord(o.name, i, "g", "g_v", i, {}, str(o), 1, state=st, reason="boom")
               for i, (o, st) in enumerate(zip(outs, states))]  # fmt: skip
    v = compare(from_records(records)).variants[0]
    assert (v.seeds, v.failed, v.running) == (2, 2, 1)
    assert v.stats.mean == pytest.approx(np.mean([1.0, 3.0]))  # seeds 0 and 2 only
    assert v.left_out == {"g_v_s1": "failed: boom", "g_v_s3": "cancelled: boom"}
    assert v.as_dict()["ci"] == list(bootstrap_ci([1.0, 3.0]) or [])


def test_slc_csv_and_its_test_return_first(tmp_path: Path) -> None:
    for s in (0, 1):
        rows = [{"Epoch": e, "TotalEnvInteracts": 100 * (e + 1), "AverageEpRet": e,
                 "AverageTestEpRet": 10 * e + s} for e in range(3)]  # fmt: skip
        write_run(tmp_path, "sac", s, rows, csv=True)
    found = compare(gather([tmp_path]))
    assert found.metric == "AverageTestEpRet"  # SpinningUp's "Performance"
    assert found.variants[0].stats.mean == pytest.approx(20.5)


def test_ranks_share_ties_and_leave_empty_variants_unranked(tmp_path: Path) -> None:
    for name, final in (("a", 5), ("b", 9), ("c", 9)):
        write_run(tmp_path, name, 0, rets([0, final]))
    write_run(tmp_path, "d", 0, rets(["nan", "nan"]))
    found = compare(gather([tmp_path]))
    assert [v.variant for v in found.variants] == ["b", "c", "a", "d"]
    assert ranks(found.variants) == [1, 1, 3, None]


def test_curves_smooth_as_spinningup_and_band_over_the_common_range(tmp_path: Path) -> None:
    y = np.array([1.0, 2.0, 6.0, 3.0])
    kernel = np.ones(3)  # SpinningUp plot.py's formula
    expected = np.convolve(y, kernel, "same") / np.convolve(np.ones(4), kernel, "same")
    assert smooth(y, 3) == pytest.approx(expected) and smooth(y, 1) is y
    write_run(tmp_path, "v", 0, rets([0, 2, 4, 6]))
    write_run(tmp_path, "v", 1, rets([1, 3, "nan", 7, 9]))  # longer, with a hole
    seeds = next(iter(seeds_of(gather([tmp_path]), ).values()))  # fmt: skip
    curves = [curve_of(s, None, "AverageEpRet") for s in seeds]
    assert list(curves[1][0]) == [0, 1, 3, 4]  # the NaN row is dropped
    got = band(curves, "mean", "std")
    assert got is not None and list(got.x) == [0, 1, 2, 3]  # where both seeds have values
    second = np.interp([0, 1, 2, 3], [0, 1, 3, 4], [1, 3, 7, 9])
    stacked = np.array([[0, 2, 4, 6], second])
    assert got.center == pytest.approx(stacked.mean(axis=0))
    assert got.hi - got.center == pytest.approx(stacked.std(axis=0))  # type: ignore[operator]
    ci = band(curves, "median", "ci")
    assert ci is not None and ci.lo is not None and (ci.lo <= ci.center).all()
    assert band([curves[0]], "mean", "std").lo is None  # type: ignore[union-attr]  # one seed


def test_at_parses_and_refuses() -> None:
    assert parse_at("final") == At() and parse_at("best").kind == "best"
    assert parse_at("12") == At("epoch", 12.0) and str(parse_at("12")) == "epoch 12"
    x = parse_at("TotalEnvInteracts=1e5")
    assert (x.kind, x.column, x.value) == ("x", "TotalEnvInteracts", 1e5)
    for bad in ("", "last", "nan", "=3"):
        with pytest.raises(ValueError, match="final, best"):
            parse_at(bad)
