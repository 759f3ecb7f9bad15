"""The early-stopping rules on hand-made seed values: which variants stop, at which epoch, why."""

from __future__ import annotations

import pytest

from slc_tui.early_stop import (
    EarlyStop,
    EarlyStopError,
    Judge,
    early_stop_of,
    from_python,
    matched,
)
from slc_tui.errors import InputError

MEDIAN = EarlyStop("median", "AverageEpRet", grace=2, min_variants=3)


def seeds(*curves: list[float], offset: int = 0) -> dict[int, list[float]]:
    """A variant's values per epoch from one curve per seed (epoch ``offset`` first)."""
    return matched([({offset + e: v for e, v in enumerate(c)}, False) for c in curves])


def test_matched_counts_only_epochs_every_running_seed_reached() -> None:
    done = {0: 1.0, 1: 2.0, 2: 3.0, 3: 4.0}
    running = {0: 10.0, 1: 20.0}
    assert matched([(done, False), (running, True)]) == {0: [1.0, 10.0], 1: [2.0, 20.0]}
    # a seed that ended early does not hold the others back; a seed with no row yet does
    assert matched([(done, False), ({0: 5.0}, False)]) == {0: [1.0, 5.0], 1: [2.0],
                                                            2: [3.0], 3: [4.0]}  # fmt: skip
    assert matched([(done, False), ({}, True)]) == {}
    assert matched([]) == {}


def test_median_stops_exactly_the_variants_below_the_median_at_the_first_decision() -> None:
    # six variants of three seeds; the mean at epoch 2 is 10 * k for variant k
    progress = {f"v{k}": seeds(*[[0.0, 0.0, 10.0 * k + d] for d in (-1, 0, 1)]) for k in range(6)}
    decisions = Judge(MEDIAN).decide(progress, set(progress))
    assert [d.variant for d in decisions] == ["v0", "v1", "v2"]  # the median is 25
    assert {d.epoch for d in decisions} == {2}
    assert decisions[1].reason == "below the median of 6 variants at epoch 2: 10.0 < 25.0"
    assert decisions[1].value == 10.0 and decisions[1].threshold == 25.0


def test_no_decision_before_grace_however_poor() -> None:
    good = [[5.0, 5.0, 5.0]] * 2
    progress = {"poor": seeds([-100.0, -100.0, 6.0]), "a": seeds(*good), "b": seeds(*good)}
    assert Judge(MEDIAN).decide(progress, set(progress)) == []
    progress["poor"] = seeds([-100.0, -100.0, 4.0])
    (d,) = Judge(MEDIAN).decide(progress, set(progress))
    assert (d.variant, d.epoch) == ("poor", 2)


def test_no_decision_until_min_variants_reached_the_epoch_then_at_that_epoch() -> None:
    judge = Judge(MEDIAN)
    early = {"a": seeds([1.0] * 5), "b": seeds([9.0] * 5)}  # two variants: below min_variants
    assert judge.decide(early, set(early)) == []
    late = {**early, "c": seeds([5.0] * 3)}  # a third reaches epochs 0..2 only
    (d,) = judge.decide(late, set(late))
    assert (d.variant, d.epoch) == ("a", 2)  # judged at the matched epoch, not at its newest


def test_a_stopped_variant_still_counts_so_survivors_are_not_halved_every_epoch() -> None:
    judge = Judge(MEDIAN)
    full = {f"v{k}": seeds([float(k)] * 4) for k in range(4)}
    first = judge.decide(full, set(full))
    assert [(d.variant, d.epoch) for d in first] == [("v0", 2), ("v1", 2)]
    # v0 and v1 stopped at epoch 2; at epoch 3 they stand in with their epoch-2 aggregates
    assert judge.decide(full, {"v2", "v3"}) == []
    assert judge.judged >= {("v2", 3), ("v3", 3)}


def test_median_judges_a_variant_by_its_best_mean_so_far() -> None:
    # epoch 2: 9, 5, 6 (a stops); epoch 3: "dip" falls to 1.0, under the median of 1, 6 and
    # a's 5, but its best so far (9.0) is above it: it stays
    progress = {"dip": seeds([0.0, 0.0, 9.0, 1.0]), "a": seeds([5.0] * 4), "c": seeds([6.0] * 4)}
    judge = Judge(MEDIAN)
    assert [(d.variant, d.epoch) for d in judge.decide(progress, set(progress))] == [("a", 2)]
    assert ("dip", 3) in judge.judged and "dip" not in judge.pruned


def test_the_best_variant_survives_noisy_epochs() -> None:
    import random

    rng = random.Random(0)
    # twenty variants, the mean of variant k is k, every epoch's value off by up to +-8
    progress = {f"v{k:02d}": seeds(*[[k + rng.uniform(-8, 8) for _ in range(60)]] * 3)
                for k in range(20)}  # fmt: skip
    stopped = {d.variant for d in Judge(MEDIAN).decide(progress, set(progress))}
    assert "v19" not in stopped and "v18" not in stopped
    assert {"v00", "v01", "v02"} <= stopped


def test_each_epoch_of_a_variant_is_judged_once() -> None:
    judge = Judge(MEDIAN)
    three = {"a": seeds([5.0] * 3), "b": seeds([4.0] * 3), "c": seeds([6.0] * 3)}
    assert [d.variant for d in judge.decide(three, set(three))] == ["b"]
    # a much better variant arrives later: a, already kept at epoch 2, is not judged again
    later = {**three, "d": seeds([50.0] * 3), "e": seeds([60.0] * 3)}
    assert judge.decide(later, {"a", "c", "d", "e"}) == []


def test_only_open_variants_are_stopped_but_finished_ones_count() -> None:
    values = {"done": 1.0, "a": 2.0, "b": 3.0, "c": 4.0}
    progress = {k: seeds([v] * 3) for k, v in values.items()}
    (d,) = Judge(MEDIAN).decide(progress, {"a", "b", "c"})
    assert d.reason == "below the median of 4 variants at epoch 2: 2.0 < 2.5"


def test_mode_min_stops_the_variants_above_the_median() -> None:
    spec = EarlyStop("median", "Loss", mode="min", grace=0, min_variants=3)
    progress = {"a": seeds([1.0]), "b": seeds([2.0]), "c": seeds([3.0])}
    (d,) = Judge(spec).decide(progress, set(progress))
    assert d.variant == "c"
    assert d.reason == "above the median of 3 variants at epoch 0: 3.0 > 2.0"


def test_asha_keeps_the_best_third_at_each_rung() -> None:
    spec = EarlyStop("asha", "AverageEpRet", grace=1, min_variants=3, eta=3)
    assert [e for e in range(30) if spec.decides_at(e)] == [1, 3, 9, 27]
    # nine variants, variant k scores k at every epoch, offset so rows are epochs 1..10
    progress = {f"v{k}": seeds([float(k)] * 10, offset=1) for k in range(9)}
    judge = Judge(spec)
    decisions = judge.decide(progress, set(progress))
    at = {d.variant: d.epoch for d in decisions}
    assert at == {f"v{k}": 1 for k in range(6)} | {"v6": 3, "v7": 3}
    first = "not in the best 3 of 9 variants at epoch 1 (asha, eta 3): 0.0 < 6.0"
    assert decisions[0].reason == first
    assert [d.reason for d in decisions if d.variant == "v6"] == [
        "not in the best 1 of 3 variants at epoch 3 (asha, eta 3): 6.0 < 8.0"
    ]


def test_asha_ties_with_the_cut_off_are_kept() -> None:
    spec = EarlyStop("asha", "R", grace=1, min_variants=3, eta=3)
    progress = {k: seeds([v], offset=1) for k, v in {"a": 5.0, "b": 5.0, "c": 1.0}.items()}
    assert [d.variant for d in Judge(spec).decide(progress, set(progress))] == ["c"]


@pytest.mark.parametrize(
    ("table", "key", "words"),
    [
        ({"rule": "mean", "metric": "R"}, "rule", '"mean" is not a rule; use one of "median"'),
        ({"metric": "R"}, "rule", "the key rule is missing"),
        ({"rule": "median"}, "metric", "the key metric is missing"),
        ({"rule": "median", "metric": ""}, "metric", '"" is not a column name'),
        ({"rule": "median", "metric": "R", "grace": -1}, "grace", "-1 is not a whole number >= 0"),
        ({"rule": "asha", "metric": "R", "grace": 0}, "grace", "0 is not a whole number >= 1"),
        ({"rule": "median", "metric": "R", "min_variants": 1}, "min_variants", "1 is not a whole"),
        ({"rule": "asha", "metric": "R", "eta": 1}, "eta", "1 is not a whole number >= 2"),
        ({"rule": "median", "metric": "R", "eta": 3}, "eta", 'of rule = "asha" only'),
        ({"rule": "median", "metric": "R", "mode": "up"}, "mode", '"up" is not a mode'),
        ({"rule": "median", "metric": "R", "gracee": 1}, "gracee", "unknown key"),
    ],
)
def test_bad_settings_name_their_key(table: dict, key: str, words: str) -> None:
    with pytest.raises(EarlyStopError) as err:
        early_stop_of(table)
    assert err.value.key == key and words in err.value.problem
    with pytest.raises(InputError, match=f"early_stop '{key}': "):
        from_python(table)


def test_defaults_and_the_python_forms() -> None:
    spec = early_stop_of({"rule": "median", "metric": "AverageEpRet"})
    assert spec == EarlyStop("median", "AverageEpRet", "max", 0, 3, 3)
    assert early_stop_of({"rule": "asha", "metric": "R"}).grace == 1
    assert from_python(None) is None and from_python(spec) is spec
    with pytest.raises(InputError):
        from_python("median")
