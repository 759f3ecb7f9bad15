"""The run order (``[run] order``): the ranking rules, the walk that keeps big runs from
starving, predictions from an earlier sweep's ledger, and the forecast of the dry run and the
views. No timing asserts: durations are written into the ledger or the records."""

from __future__ import annotations

import io
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import cli, one_line_error, write_grid
from fake_executor import FakeExecutor, Script

from slc_tui import dryrun
from slc_tui.durations import Durations, median
from slc_tui.engine.core import Engine
from slc_tui.engine.forecast import _Item, forecast, known_of, play
from slc_tui.engine.ledger import RunRecord, ledger_path
from slc_tui.engine.order import Order
from slc_tui.engine.schedule import Waits, walk
from slc_tui.errors import InputError
from slc_tui.grid import ExperimentGrid
from slc_tui.options import RunOptions
from slc_tui.plan import GridPlan, plan_grid
from slc_tui.states import RunState
from slc_tui.sweep.prepare import from_plans
from slc_tui.sweep.state import SweepState


def rec(name: str, idx: int, variant: str, state: RunState = RunState.PENDING,
        took: float | None = None, cpus: int = 1, grid: str = "g") -> RunRecord:  # fmt: skip
    """A record of run ``name``; ``took``: it succeeded in that many seconds."""
    r = RunRecord(name, idx, grid, variant, 0, {}, f"/d/{name}", cpus, state=state)
    if took is not None:
        r.state, r.started, r.ended = RunState.SUCCEEDED, 1000.0, 1000.0 + took
    return r


def names(records: list[RunRecord]) -> list[str]:
    return [r.name for r in records]


# -- the ranking -------------------------------------------------------------------------------
def three_by_two() -> list[RunRecord]:
    """Variants a, b, c of two seeds each, in plan order a0 a1 b0 b1 c0 c1."""
    return [rec(f"{v}{s}", i, v) for i, (v, s) in enumerate((v, s) for v in "abc" for s in (0, 1))]


def test_plan_order_is_the_plans() -> None:
    records = three_by_two()[::-1]
    assert names(Order("plan").rank(records)) == ["a0", "a1", "b0", "b1", "c0", "c1"]


def test_breadth_takes_one_seed_of_every_variant_per_round() -> None:
    assert names(Order("breadth").rank(three_by_two())) == ["a0", "b0", "c0", "a1", "b1", "c1"]
    # a retry of a first seed keeps its round: it goes before every second seed
    records = three_by_two()
    records[0].state = RunState.RUNNING
    assert names(Order("breadth").rank(records)) == ["b0", "c0", "a1", "b1", "c1"]


def test_longest_first_puts_known_durations_first_then_the_unknown_in_plan_order() -> None:
    known = Durations()
    known.add("g", "b", "b0", 50.0)
    known.add("g", "c", "c1", 90.0)
    ranked = Order("longest-first", known).rank(three_by_two())
    # c1 (its own 90 s), c0 (its variant's 90 s), b0 (50 s), b1 (b's 50 s); a unknown
    assert names(ranked) == ["c0", "c1", "b0", "b1", "a0", "a1"]


def test_auto_starts_one_seed_of_every_variant_then_the_longest() -> None:
    known = Durations()
    for v, seconds in (("a", 10.0), ("b", 30.0), ("c", 20.0)):
        known.add("g", v, f"{v}9", seconds)  # a seed of an earlier sweep
    order = Order("auto", known)
    assert names(order.rank(three_by_two())) == ["b0", "c0", "a0", "b1", "c1", "a1"]


def test_auto_learns_from_finished_seeds_and_a_retry_goes_with_the_rest() -> None:
    order = Order("auto")
    records = three_by_two()
    assert names(order.rank(records)) == ["a0", "b0", "c0", "a1", "b1", "c1"]  # nothing known
    for name in ("a0", "b0", "c0"):
        order.mark("g", name[0])
    records[0] = rec("a0", 0, "a", took=5.0)
    records[2] = rec("b0", 2, "b", took=40.0)
    records[4].state = RunState.PENDING  # c0 failed and waits for its retry
    ranked = order.rank(records)
    assert names(ranked) == ["b1", "a1", "c0", "c1"]  # c's duration is still unknown
    assert order.predict(ranked[0]) == 40.0


def test_a_runs_own_success_beats_its_variants_median() -> None:
    known = Durations()
    for name, seconds in (("a0", 10.0), ("a1", 20.0), ("a2", 60.0)):
        known.add("g", "a", name, seconds)
    assert known.predict("g", "a", "a0") == 10.0
    assert known.predict("g", "a", "a7") == 20.0  # the median of its seeds
    assert known.predict("g", "b", "b0") is None
    known.add("g", "a", "a2", 30.0)  # a later success replaces the earlier one
    assert known.predict("g", "a", "a7") == 20.0 and known.predict("g", "a", "a2") == 30.0
    assert median([3.0, 1.0]) == 2.0


def test_an_unknown_order_is_refused() -> None:
    with pytest.raises(InputError, match="order 'fastest'"):
        from_plans([], RunOptions(order="fastest"))
    with pytest.raises(ValueError, match="unknown order"):
        Order("fastest")


def test_grid_files_run_together_must_agree_on_the_order(in_tmp: Path) -> None:
    one = write_grid(in_tmp / "a.toml", "ga", "nothing", "seed = 0", '[run]\norder = "plan"')
    two = write_grid(in_tmp / "b.toml", "gb", "nothing", "seed = 0", '[run]\norder = "breadth"')
    line = one_line_error(subprocess.run(cli(str(one), str(two), "--dry-run"),
                                         capture_output=True, text=True))  # fmt: skip
    assert "b.toml" in line and "[run] order: 'breadth' differs from 'plan'" in line
    res = subprocess.run(cli(str(one), str(two), "--dry-run", "--order", "breadth"),
                         capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 0 and "Start order: breadth (round by round" in res.stdout


# -- the walk: no starving ---------------------------------------------------------------------
def test_the_walk_keeps_cores_for_a_run_passed_over_patience_times() -> None:
    free = [1]

    def take(item: _Item) -> int | None:
        if item.cpus > free[0]:
            return None
        free[0] -= item.cpus
        return item.cpus

    big, waits = _Item("big", 2, 1.0), Waits(2)
    for turn in range(2):  # each turn one core is free and a small run takes it
        free[0] = 1
        started = [i.name for i, _ in walk([big, _Item(f"s{turn}", 1, 1.0)], take,
                                           lambda: free[0] == 0, waits)]  # fmt: skip
        assert started == [f"s{turn}"]
    free[0] = 1
    assert list(walk([big, _Item("s2", 1, 1.0)], take, lambda: free[0] == 0, waits)) == []
    kept = Waits(2)
    kept.passed.update({"big": 2, "gone": 2})
    kept.keep({"big"})  # a run no longer pending is forgotten
    assert dict(kept.passed) == {"big": 2}
    free[0] = 2
    assert [i.name for i, _ in walk([big], take, lambda: free[0] == 0, waits)] == ["big"]
    assert not waits.passed  # started: it waits no more


def grid_of(name: str, seeds: Any, num_cpu: int = 1, start: int = 0, **values: Any) -> GridPlan:
    g = ExperimentGrid(name)
    for key, vals in values.items():
        g.add(key, vals)
    g.add("seed", list(seeds))
    return plan_grid(g, "engine_thunks:nothing", num_cpu=num_cpu, data_dir="data",
                     start_idx=start)  # fmt: skip


def engine(fake: FakeExecutor, plans: list[GridPlan], budget: int, order: str) -> Engine:
    e = Engine(plans, fake, budget=list(range(budget)), order=order)
    e.prepare()
    return e


@pytest.mark.parametrize("order", ["plan", "auto"])
def test_a_big_mpi_run_is_not_starved_by_a_stream_of_small_ones(
    fake_executor: FakeExecutor, in_tmp: Path, order: str
) -> None:
    first, big = grid_of("first", [0]), grid_of("big", [0], num_cpu=2, start=1)
    small = grid_of("small", range(8), start=2)
    fake_executor.scripts.update({"first_s0": Script(ticks=4)})
    fake_executor.default = Script(ticks=3)
    assert engine(fake_executor, [first, big, small], 2, order).run() == 0
    starts = fake_executor.start_order()
    # two small runs pass the 2-rank run (the budget's worth), then cores are kept for it
    assert starts[:4] == ["first_s0", "small_s0", "small_s1", "big_s0"]
    assert fake_executor.started("big_s0")[0].busy == {"big_s0": [0, 1]}


# -- predictions from an earlier sweep's ledger ------------------------------------------------
SECONDS = {1: 10.0, 2: 50.0, 3: 100.0}
"""The duration each variant (x = 1, 2, 3) took in the earlier sweep."""


def earlier_sweep(fake: FakeExecutor) -> tuple[GridPlan, Path]:
    """Run grid ``g`` (x in 1, 2, 3; seeds 0, 1) once, then write the durations of
    :data:`SECONDS` into its ledger's attempts, as an earlier sweep would have left them."""
    plan = grid_of("g", [0, 1], x=[1, 2, 3])
    assert engine(fake, [plan], 2, "plan").run() == 0
    path = ledger_path(plan.data_dir, plan.name)
    with sqlite3.connect(path) as conn:
        for run in plan.runs:
            took = SECONDS[run.kwargs["x"]]
            conn.execute("UPDATE attempts SET started = 0, ended = ? WHERE name = ?",
                         (took, run.name))  # fmt: skip
    conn.close()
    fake.starts.clear()
    return plan, path


def by_x(plan: GridPlan) -> dict[tuple[int, int], str]:
    return {(r.kwargs["x"], r.seed): r.name for r in plan.runs}


@pytest.mark.parametrize(
    ("order", "expected"),
    [("longest-first", [(3, 0), (3, 1), (2, 0), (2, 1), (1, 0), (1, 1)]),
     ("auto", [(3, 0), (2, 0), (1, 0), (3, 1), (2, 1), (1, 1)]),
     ("plan", [(1, 0), (1, 1), (2, 0), (2, 1), (3, 0), (3, 1)])],
)  # fmt: skip
def test_the_order_comes_from_the_durations_of_an_earlier_sweep(
    fake_executor: FakeExecutor, in_tmp: Path, order: str, expected: list[tuple[int, int]]
) -> None:
    plan, _ = earlier_sweep(fake_executor)
    again = grid_of("g", [0, 1], x=[1, 2, 3])
    assert engine(fake_executor, [again], 1, order).run() == 0  # resume ALL: every run again
    assert fake_executor.start_order() == [by_x(plan)[k] for k in expected]


def test_the_dry_run_shows_the_order_and_the_predicted_finish(
    fake_executor: FakeExecutor, in_tmp: Path
) -> None:
    plan, path = earlier_sweep(fake_executor)
    out = io.StringIO()
    dryrun.print_plan([plan], [0], out, order="auto", known=known_of([path]))
    text = out.getvalue()
    want = ", ".join(by_x(plan)[k] for k in [(3, 0), (2, 0), (1, 0), (3, 1), (2, 1), (1, 1)])
    assert "Start order: auto (one seed of every variant first" in text and want in text
    assert "Predicted finish: 05:20 after the start" in text  # 2 x (100 + 50 + 10) on one core
    out = io.StringIO()
    dryrun.print_plan([plan], [0, 1], out, order="plan", known=Durations())
    assert "Start order" not in out.getvalue() and "Predicted finish" not in out.getvalue()


def test_the_views_eta_predicts_from_the_ledger(fake_executor: FakeExecutor, in_tmp: Path) -> None:
    _, path = earlier_sweep(fake_executor)
    with sqlite3.connect(path) as conn:  # as a sweep that runs again sees it, before it starts
        conn.execute("UPDATE runs SET state = 'pending', started = NULL, ended = NULL")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'max_cpus'")
    conn.close()
    view = SweepState.open([path])
    view.poll()
    assert view.cpus()[1] == 1
    assert view.eta() == pytest.approx(320.0)
    view.close()


# -- the forecast ------------------------------------------------------------------------------
def test_the_forecast_sees_the_long_tail_and_what_running_runs_have_left() -> None:
    known = Durations()
    known.add("g", "long", "long0", 100.0)
    known.add("g", "short", "short0", 10.0)
    records = [rec(f"short{i}", i, "short") for i in range(1, 5)]
    records.append(rec("long1", 9, "long"))
    ahead = forecast(records, known, "longest-first", 2, now=0.0)
    assert names(ahead.order)[0] == "long1" and ahead.finish == 100.0  # not (100 + 40) / 2
    assert forecast(records, known, "plan", 2, now=0.0).finish == 120.0  # the long one last
    running = rec("long2", 10, "long", RunState.RUNNING)
    running.started = -30.0
    assert forecast([running], known, "auto", 2, now=0.0).finish == 70.0
    unknown = forecast([rec("other0", 0, "other")], known, "auto", 2, now=0.0)
    assert unknown.finish is None and unknown.unknown == 1
    assert forecast([rec("other0", 0, "other")], known, "auto", 2, 0.0, fallback=5.0).finish == 5.0
    assert play([_Item("a", 1, 1.0), _Item("b", 1, 1.0), _Item("big", 2, 1.0)], [], 2) == 2.0
