"""Early stopping in the engine's loop over the scripted backend: the progress files the fake
runs write are judged, a variant's seeds end together as pruned, the sweep exits 0, and a
resumed sweep leaves pruned runs alone."""

from __future__ import annotations

from typing import Any

from fake_executor import Script
from test_engine_loop import states, sweep  # noqa: F401  (the fixture and a helper)

from slc_tui.early_stop import EarlyStop
from slc_tui.grid import ExperimentGrid
from slc_tui.options import RunOptions
from slc_tui.plan import GridPlan, plan_grid
from slc_tui.states import EventKind, Resume, RunState

RULE = EarlyStop("median", "AverageEpRet", grace=2, min_variants=3)


def plan(score: dict[int, float], seeds: int = 2, rule: EarlyStop | None = RULE) -> GridPlan:
    """Grid ``g``: a variant ``g_q{k}`` per key of ``score``, ``seeds`` seeds each."""
    g = ExperimentGrid("g")
    g.add("q", list(score))
    g.add("seed", list(range(seeds)))
    return plan_grid(g, "engine_thunks:nothing", data_dir="data", options=RunOptions(),
                     early_stop=rule)  # fmt: skip


def scripts(score: dict[int, float], seeds: int = 2, epochs: int = 6) -> dict[str, Any]:
    """Every run writes ``epochs`` rows of its variant's score (seed s adds s), then ends."""
    return {
        f"g_q{k}_s{s}": Script(ticks=epochs + 1, epochs=epochs, returns=(v + s,) * epochs)
        for k, v in score.items()
        for s in range(seeds)
    }


SCORE = {0: 30.0, 1: 20.0, 2: 10.0, 3: 0.0}


def test_the_variants_below_the_median_stop_with_all_their_seeds_and_the_sweep_exits_0(
    sweep: Any,  # noqa: F811
) -> None:
    # 7 cores for 8 runs: g_q3_s1 waits when the rule decides at epoch 2
    s = sweep(plan(SCORE), budget=7, scripts=scripts(SCORE))
    assert s.run() == 0
    got = states(s)
    assert {n for n, st in got.items() if st == RunState.PRUNED} == {
        "g_q2_s0", "g_q2_s1", "g_q3_s0", "g_q3_s1",
    }  # fmt: skip
    assert {n for n, st in got.items() if st == RunState.SUCCEEDED} == {
        "g_q0_s0", "g_q0_s1", "g_q1_s0", "g_q1_s1",
    }  # fmt: skip
    runs = s.runs()
    # means at epoch 2: 30.5, 20.5, 10.5 and 0 (g_q3 has one seed running): the median is 15.5
    assert runs["g_q2_s1"].reason == "below the median of 4 variants at epoch 2: 10.5 < 15.5"
    assert runs["g_q3_s0"].reason == "below the median of 4 variants at epoch 2: 0.0 < 15.5"
    assert runs["g_q3_s1"].reason == runs["g_q3_s0"].reason
    assert s.fake.started("g_q3_s1") == []  # its variant was stopped before it could start
    assert runs["g_q2_s0"].epoch == 2 and runs["g_q0_s0"].epoch == 5  # stopped at epoch 2
    stopped = [e.run.name for e in s.events if e.kind == EventKind.STOPPING and e.run]
    assert sorted(stopped) == ["g_q2_s0", "g_q2_s1", "g_q3_s0"]
    assert len({st.turn for st in s.fake.starts}) == 1  # everything started at once


def test_freed_cores_go_to_the_next_runs(sweep: Any) -> None:  # noqa: F811
    score = {0: 30.0, 1: 20.0, 2: 10.0, 3: 0.0, 4: 40.0, 5: 50.0}
    # plan order: the first 8 runs are q0..q3, whose pruned seeds free the cores for q4, q5
    s = sweep(plan(score), budget=8, order="plan", scripts=scripts(score, epochs=8))
    assert s.run() == 0
    first = s.fake.starts[0].turn
    later = [st for st in s.fake.starts if st.turn > first]
    assert {st.name for st in later} == {"g_q4_s0", "g_q4_s1", "g_q5_s0", "g_q5_s1"}
    # they started when the pruned variants' cores came free, long before the 8 epochs ended
    assert max(st.turn for st in later) < first + 8
    assert states(s)["g_q5_s1"] == RunState.SUCCEEDED


def test_without_a_rule_nothing_is_pruned(sweep: Any) -> None:  # noqa: F811
    s = sweep(plan(SCORE, rule=None), budget=8, scripts=scripts(SCORE))
    assert s.run() == 0
    assert set(states(s).values()) == {RunState.SUCCEEDED}


def test_resume_keeps_pruned_runs_and_a_fresh_sweep_runs_them_again(sweep: Any) -> None:  # noqa: F811
    s = sweep(plan(SCORE), budget=7, scripts=scripts(SCORE))
    assert s.run() == 0
    pruned = {n for n, st in states(s).items() if st == RunState.PRUNED}
    again = sweep(plan(SCORE), budget=7, resume=Resume.FAILED)
    assert again.run() == 0
    assert states(again) == states(s)  # nothing ran again: succeeded and pruned are kept
    assert len(again.fake.starts) == len(s.fake.starts)  # the same fake: no new start
    fresh = sweep(plan(SCORE, rule=None), budget=8, resume=Resume.ALL)
    assert fresh.run() == 0
    assert {n for n, st in states(fresh).items() if st == RunState.SUCCEEDED} >= pruned


def test_runs_added_to_a_plan_later_are_judged_too() -> None:
    """An Optuna search adds each trial's runs to its plan as it asks it: the pruner of the
    grid knows them at its next decision."""
    from slc_tui.engine.ledger import RunRecord
    from slc_tui.engine.prune import GridPruner

    full = plan(SCORE, seeds=1)
    grown = GridPlan(full.name, full.data_dir, [], early_stop=RULE)
    pruner = GridPruner(grown)
    assert pruner.decide({}) == [] and pruner.names == []
    grown.runs = list(full.runs)  # as engine.trials registers a trial's runs
    records = {
        r.name: RunRecord(r.name, r.idx, r.grid, r.variant, r.seed, {}, r.output_dir, 1)
        for r in grown.runs
    }
    pruner.decide(records)
    assert pruner.names == [r.name for r in full.runs]
    assert pruner.seeds == {f"g_q{k}": [f"g_q{k}_s0"] for k in SCORE}
