"""The dashboard's pure parts: the sweep model, labels, commands, curves and the log reader."""

from __future__ import annotations

from pathlib import Path

import pytest
from ui_fixtures import NOW, T0, FakeEngine, clock, make_sweep

from slc_tui.engine.claim import engine_alive
from slc_tui.engine.ledger import Ledger
from slc_tui.states import RunState, Verb
from slc_tui.sweep.fmt import fmt_duration, fmt_num
from slc_tui.sweep.state import SweepState
from slc_tui.ui.commands import rerun_targets, stop_targets
from slc_tui.ui.compare_table import cells, comparison, export_csv
from slc_tui.ui.curves import Series, curve, mean_band, plot
from slc_tui.ui.feed import SweepFeed
from slc_tui.ui.labels import run_label, summary_text
from slc_tui.ui.log_view import clean
from slc_tui.ui.nodes import RunNode, VariantNode
from slc_tui.ui.run_details import flat_params


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return make_sweep(tmp_path)


@pytest.fixture
def model(ledger: Ledger) -> SweepState:
    m = SweepState.open([ledger.path], clock)
    m.poll()
    return m


def test_poll_reads_all_then_only_changes(model: SweepState, ledger: Ledger) -> None:
    assert len(model.runs) == 9
    assert list(model.variants) == [(0, f"cartpole_pop{p}") for p in (16, 32, 64)]
    assert model.poll() == set()
    ledger.update("cartpole_pop64_s0", state=RunState.RUNNING, started=NOW)
    assert model.poll() == {(0, "cartpole_pop64_s0")}
    assert model.runs[(0, "cartpole_pop64_s0")].state == RunState.RUNNING


def test_counts_cpus_elapsed_eta(model: SweepState) -> None:
    counts = model.counts()
    assert (
        counts[RunState.SUCCEEDED],
        counts[RunState.FAILED],
        counts[RunState.RUNNING],
        counts["pending"],
    ) == (2, 1, 1, 5)
    assert model.cpus() == (1, 2)
    assert model.elapsed() == pytest.approx(192.0)
    eta = model.eta()
    assert eta is not None and eta > 0
    assert model.active() and not model.paused()
    assert model.exit_status() == 1


def test_engine_alive_needs_matching_start_time() -> None:
    from slc_tui.procid import engine_token

    assert engine_alive({"engine_token": engine_token(), "status": "running"})
    pid = engine_token().split(":")[0]
    assert not engine_alive({"engine_token": f"{pid}:1", "status": "running"})
    assert not engine_alive({})
    # an engine that ran inside a Python session that goes on has closed its sweep
    assert not engine_alive({"engine_token": engine_token(), "status": "finished"})


def test_commands_pick_the_right_runs(model: SweepState) -> None:
    running = (0, "cartpole_pop32_s0")
    assert stop_targets(model, RunNode(running)) == [running]
    assert stop_targets(model, RunNode((0, "cartpole_pop16_s0"))) == []
    assert len(stop_targets(model, VariantNode((0, "cartpole_pop32")))) == 3
    assert rerun_targets(model, VariantNode((0, "cartpole_pop16"))) == [(0, "cartpole_pop16_s20")]
    assert rerun_targets(model, RunNode((0, "cartpole_pop16_s0"))) == [(0, "cartpole_pop16_s0")]
    assert rerun_targets(model, RunNode(running)) == []


def test_labels(model: SweepState) -> None:
    failed = run_label(model.runs[(0, "cartpole_pop16_s20")]).plain
    assert failed.startswith("✘ s20") and "ValueError" in failed
    ok = run_label(model.runs[(0, "cartpole_pop16_s0")]).plain
    assert ok.startswith("✔ s0") and "AvgRet 500" in ok
    assert summary_text(model.summary(model.variants[(0, "cartpole_pop16")])).plain == "2/3 ✘1"


def test_number_and_time_formats() -> None:
    assert fmt_num(500.0) == "500"
    assert fmt_num(487.25) == "487.2"
    assert fmt_num(1.5e7) == "1.50e+07"
    assert fmt_duration(192) == "03:12"
    assert fmt_duration(3725) == "1:02:05"
    assert fmt_duration(None, unknown="--:--") == "--:--"
    assert fmt_duration(None) == "-"
    assert flat_params({"a": {"b": 1}, "c": 2}) == [("a:b", 1), ("c", 2)]


def _final(model: SweepState, name: str) -> float:
    from slc_tui.engine.progress import read_progress

    cols, rows = read_progress(model.runs[(0, name)].output_dir)
    return float(rows[-1][cols.index("AverageEpRet")])


def test_compare_ranks_over_seeds_and_leaves_the_failed_seed_out(
    model: SweepState, ledger: Ledger, tmp_path: Path
) -> None:
    import io

    import numpy as np

    from slc_tui.compare import compare_command
    from slc_tui.sweep.ranking import CSV_COLUMNS

    found = comparison(model)
    assert found.metric == "AverageEpRet" and "EpLen" in found.columns
    assert [v.variant for v in found.variants] == [f"cartpole_pop{p}" for p in (16, 32, 64)]
    pop16, pop32, pop64 = found.variants
    finals = [_final(model, f"cartpole_pop16_s{s}") for s in (0, 10)]  # s20 failed at epoch 3
    assert (pop16.runs, pop16.seeds, pop16.failed, pop16.missing) == (3, 2, 1, 0)
    assert pop16.stats.mean == pytest.approx(np.mean(finals))
    assert pop16.stats.std == pytest.approx(np.std(finals))
    assert pop16.left_out["cartpole_pop16_s20"].startswith("failed: ValueError")
    assert (pop32.seeds, pop32.running, pop32.missing, pop32.epoch) == (1, 1, 2, 12)
    assert (pop64.seeds, pop64.stats.mean, pop64.stats.ci) == (0, None, None)
    rows = cells(found)
    assert rows[0][:4] == ["1", "pop16", "2 ✘1", "20"]  # no grid prefix in the table
    assert rows[0][4] == f"{fmt_num(np.mean(finals))} ± {fmt_num(np.std(finals))}"
    assert rows[1][2] == "1 ●1 ?2" and rows[2][0] == "" and rows[2][4] == "-"
    path = export_csv(model, tmp_path / "x.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS) and len(lines) == 4
    out = io.StringIO()  # the dashboard's export is the CSV of `slc-tui compare --csv`
    assert compare_command([str(ledger.path)], fmt="csv", stream=out) == 0
    assert out.getvalue() == path.read_text()


def test_curves_and_plot(model: SweepState) -> None:
    from slc_tui.engine.progress import read_progress

    cols, rows = read_progress(model.runs[(0, "cartpole_pop16_s0")].output_dir)
    points = curve(cols, rows, "AverageEpRet")
    assert len(points) == 20 and points[0][0] == 1.0
    mean, band = mean_band([points, [(1.0, 0.0)]])  # only epoch 1 is common to both
    assert mean == [(1.0, points[0][1] / 2)]
    assert band is not None and band[2][0] - band[1][0] == pytest.approx(points[0][1])
    mean, band = mean_band([points, points])
    assert mean == points and band is not None and band[1] == band[2]
    series = [Series(points, "cyan", "s0"), Series(mean, "bold", "mean", band, "± std")]
    text = plot(series, 40, 8)
    lines = text.plain.split("\n")
    assert len(lines) == 8 and all(len(line) <= 40 for line in lines)
    assert lines[0] == "━ s0  ━ mean  █ ± std"  # the legend
    assert any("\u2800" < ch <= "\u28ff" for ch in text.plain)
    labels = [line.split("┤")[0].strip() for line in lines[1:-1] if "┤" in line]
    assert labels == ["500", "250", "0"]  # round ticks, not the data's own extremes
    assert lines[-1].split() == ["ep└", "10", "20"]  # the epochs, at round values
    assert plot([], 40, 8).plain == "no progress yet"


def test_clean_strips_ansi_and_carriage_returns() -> None:
    assert clean("\x1b[31mred\x1b[0m done") == "red done"
    assert clean("10%\r50%\r100%") == "100%"
    assert clean("a\tb") == "a   b"


def test_fake_engine_obeys(model: SweepState, ledger: Ledger) -> None:
    engine = FakeEngine(ledger)
    model.send((0, "cartpole_pop32_s0"), "stop")
    model.send(0, "pause")
    assert engine.step() == [("stop", "cartpole_pop32_s0"), ("pause", None)]
    model.poll()
    assert model.runs[(0, "cartpole_pop32_s0")].state == "cancelled"
    assert model.paused()


def test_elapsed_of_a_finished_sweep_whose_last_engine_had_nothing_to_do(
    model: SweepState, ledger: Ledger
) -> None:
    FakeEngine(ledger).finish_all()  # every run ended by NOW; the engine ended at NOW
    model.poll()
    assert model.elapsed() == pytest.approx(NOW - T0)
    # `--resume` an hour later: the engine starts, finds nothing to run, and ends at once.
    ledger.set_meta(started=NOW + 3600, ended=NOW + 3600.2, status="finished")
    model.poll()
    assert model.elapsed() == pytest.approx(NOW - T0)  # the runs' span, not 00:00
    # A live engine that has not started a run yet counts from its own start.
    ledger.set_meta(started=NOW - 5, ended=None, status="running")
    model.poll()
    assert model.elapsed() == pytest.approx(5.0)


def test_read_then_apply_is_a_poll(ledger: Ledger) -> None:
    polled, fed = SweepState.open([ledger.path], clock), SweepState.open([ledger.path], clock)
    since = fed.revs()

    def step() -> None:
        nonlocal since
        read = fed.read(since)
        assert fed.runs == {} or fed.revs() == since  # a read takes nothing in by itself
        since = read.revs
        assert fed.apply(read) == polled.poll()
        assert fed.runs == polled.runs and fed.metas == polled.metas

    step()  # everything
    ledger.update("cartpole_pop64_s0", state=RunState.RUNNING, started=NOW)
    step()  # only what changed
    assert fed.read(since).runs == [[]]
    ledger.set_meta(engine_token="1:0")  # the engine died mid-sweep: its runs are lost
    step()
    assert fed.runs[(0, "cartpole_pop64_s0")].state == RunState.LOST


def test_phase_words_what_the_engines_do(model: SweepState, ledger: Ledger) -> None:
    assert model.phase() == "running"
    ledger.set_meta(paused=True)
    model.poll()
    assert model.phase() == "paused"
    FakeEngine(ledger).finish_all()
    model.poll()
    assert model.phase() == "finished"
    ledger.set_meta(status="stopped")
    model.poll()
    assert model.phase() == "stopped"
    ledger.set_meta(status="running", engine_token="1:0")  # it died without a word
    model.poll()
    assert model.phase() == "engine gone"


def test_feed_sends_in_key_order_and_reads_off_the_ui_thread(ledger: Ledger) -> None:
    import threading

    model = SweepState.open([ledger.path], clock)
    feed = SweepFeed(model, interval=0.01)
    assert len(feed.read_now()) == 9
    feed.queue([(0, "cartpole_pop32_s0")], Verb.STOP)
    feed.queue([0], Verb.PAUSE)
    feed.flush()  # what a send worker does
    engine = FakeEngine(ledger)
    assert engine.step() == [("stop", "cartpole_pop32_s0"), ("pause", None)]
    posts: list[int] = []
    reader = threading.Thread(target=feed.follow, args=(posts.append, lambda: False))
    reader.start()
    for _ in range(500):  # until the reader saw the engine's answer
        if posts and posts[-1] >= 1:
            break
        threading.Event().wait(0.01)
    assert model.runs[(0, "cartpole_pop32_s0")].state == RunState.RUNNING  # not taken in yet
    assert (0, "cartpole_pop32_s0") in feed.take()
    assert model.runs[(0, "cartpole_pop32_s0")].state == RunState.CANCELLED
    feed.queue([0], Verb.RESUME)  # still queued at exit: close sends it, then reads
    feed.close()
    reader.join(5)
    assert not reader.is_alive()
    assert engine.step() == [("resume", None)]
    feed.flush()  # after close: nothing left, nothing to do
