"""Early stopping that respects seeds: a variant is judged by the aggregate of its seeds at
matched epochs, and stopped whole (every seed at once) when it falls below the rule.

Pure: no files, no processes. The engine (:mod:`slc_tui.engine.prune`) reads the progress
files and hands in each variant's seeds; this module says which variants to stop and why.

Which seeds count at epoch ``e`` (:func:`matched`): the seeds that have a row at ``e``
(running or ended; a seed that failed, was cancelled or lost is left out by the caller). A
variant has an aggregate at ``e`` only when every one of its *running* seeds reached ``e``
(a seed not yet started does not hold it back; a seed that ended before ``e`` does not
either). The aggregate is the mean over those seeds (:data:`slc_tui.stats.ESTIMATE`).

Rules (each decision is made once, at the first moment at least ``min_variants`` variants
have an aggregate at that epoch; a decision is never taken before epoch ``grace``):

- ``median``: at every epoch ``e >= grace``, a variant whose best aggregate so far (at
  epochs ``<= e``, as Optuna's and Ray's median rules take the trial's best) is worse than
  the median of the aggregates of the variants at ``e`` (itself included) is stopped: noise
  at one epoch does not stop a variant that did well before. A variant stopped earlier
  still counts at later epochs, with its aggregate at the last epoch it reached (else each
  epoch would halve the survivors).
- ``asha``: rungs at epochs ``grace * eta**k`` (k = 0, 1, ...); at a rung, a variant that is
  not among the best ``max(1, n // eta)`` of the ``n`` variants that reached it is stopped
  (ties with the cut-off are kept): successive halving, decided asynchronously. A variant
  stopped at a lower rung is not counted at a higher one.

Epochs are the progress file's epoch column (else the 1-based row number).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

RULES = ("median", "asha")
"""The rules ``[early_stop] rule`` may name."""
KEYS = ("rule", "metric", "mode", "grace", "min_variants", "eta")
"""The keys of an ``[early_stop]`` table."""
MODES = ("max", "min")

Progress = Mapping[str, Mapping[int, Sequence[float]]]
"""Per variant, per epoch at which it has an aggregate, its seeds' values."""


class EarlyStopError(ValueError):
    """A bad ``[early_stop]`` setting: ``key`` and the ``problem`` with it."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class EarlyStop:
    """An ``[early_stop]`` table, checked (:func:`early_stop_of`)."""

    rule: str
    """``"median"`` or ``"asha"``."""
    metric: str
    """The progress column judged (``"AverageEpRet"``)."""
    mode: str = "max"
    """``"max"``: higher is better; ``"min"``: lower is better."""
    grace: int = 0
    """No decision before this epoch."""
    min_variants: int = 3
    """No decision at an epoch until at least this many variants have an aggregate there."""
    eta: int = 3
    """asha: the reduction factor (rungs at ``grace * eta**k``, keep the best 1/eta)."""

    def decides_at(self, epoch: int) -> bool:
        """Whether this rule may decide at ``epoch`` (asha: at its rungs only)."""
        if epoch < self.grace:
            return False
        if self.rule != "asha":
            return True
        rung = self.grace
        while rung < epoch:
            rung *= self.eta
        return rung == epoch

    def describe(self) -> str:
        """The rule in one line, for ``--dry-run``."""
        best = "higher" if self.mode == "max" else "lower"
        g, eta = self.grace, self.eta
        if self.rule == "asha":
            how = f"asha: at rungs epoch {g}, {g * eta}, {g * eta**2}, ... keep the best 1/{eta}"
        else:
            how = f"median: from epoch {g}, stop a variant below the median of variants"
        return (
            f"{how}; judged on the mean over seeds of {self.metric} ({best} is better), once "
            f"{self.min_variants} variants reached the epoch; all seeds stop together"
        )


def _shown(value: Any) -> str:
    """``value`` as a grid file writes it (``"asha"``, ``true``)."""
    import json

    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _whole(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def early_stop_of(table: Mapping[str, Any]) -> EarlyStop:
    """Check an ``[early_stop]`` table (or ``ExperimentGrid.run(early_stop={...})``).

    Raises:
        EarlyStopError: an unknown key, rule or mode, no metric, ``grace < 0`` (asha:
            ``< 1``), ``min_variants < 2``, ``eta < 2`` or ``eta`` without asha.
    """
    for key in table:
        if key not in KEYS:
            raise EarlyStopError(str(key), f"unknown key; the keys are {', '.join(KEYS)}")
    rule = table.get("rule")
    if rule not in RULES:
        shown = "the key rule is missing" if rule is None else f"{_shown(rule)} is not a rule"
        raise EarlyStopError("rule", f"{shown}; use one of {', '.join(map(_shown, RULES))}")
    metric = table.get("metric")
    if not isinstance(metric, str) or not metric.strip():
        shown = "the key metric is missing"
        if metric is not None:
            shown = f"{_shown(metric)} is not a column name"
        raise EarlyStopError("metric", f'{shown}; name a progress column, e.g. "AverageEpRet"')
    mode = table.get("mode", "max")
    if mode not in MODES:
        raise EarlyStopError("mode", f'{_shown(mode)} is not a mode; use "max" or "min"')
    least_grace = 1 if rule == "asha" else 0
    grace = table.get("grace", least_grace)
    if not _whole(grace, least_grace):
        why = " (asha's first rung is at epoch grace)" if rule == "asha" else ""
        problem = f"{_shown(grace)} is not a whole number >= {least_grace}{why}"
        raise EarlyStopError("grace", problem)
    least = table.get("min_variants", 3)
    if not _whole(least, 2):
        raise EarlyStopError("min_variants", f"{_shown(least)} is not a whole number >= 2")
    if "eta" in table and rule != "asha":
        raise EarlyStopError("eta", 'eta is the reduction factor of rule = "asha" only')
    eta = table.get("eta", 3)
    if not _whole(eta, 2):
        raise EarlyStopError("eta", f"{_shown(eta)} is not a whole number >= 2")
    return EarlyStop(rule, metric, mode, grace, least, eta)


def from_python(value: Any) -> EarlyStop | None:
    """``ExperimentGrid.run(early_stop=...)``: None, an :class:`EarlyStop`, or a dict with
    the keys of an ``[early_stop]`` table.

    Raises:
        InputError: a bad setting, named as the grid file's checks name it.
    """
    from slc_tui.errors import InputError

    if value is None or isinstance(value, EarlyStop):
        return value
    if not isinstance(value, Mapping):
        raise InputError(f"early_stop={value!r} is not a dict like {{'rule': 'median', ...}}")
    try:
        return early_stop_of(value)
    except EarlyStopError as exc:
        raise InputError(f"early_stop {exc.key!r}: {exc.problem}") from None


def matched(seeds: Sequence[tuple[Mapping[int, float], bool]]) -> dict[int, list[float]]:
    """A variant's values per epoch from its seeds' ``(values by epoch, running)``: only the
    epochs every running seed reached, each with the values of the seeds that have it."""
    running_reach = [max(h, default=-1) for h, running in seeds if running]
    reach = min(running_reach, default=None)
    out: dict[int, list[float]] = {}
    for history, _ in seeds:
        for epoch, value in history.items():
            if reach is None or epoch <= reach:
                out.setdefault(epoch, []).append(value)
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class Decision:
    """A variant to stop, the epoch of the decision, and why."""

    variant: str
    epoch: int
    value: float
    threshold: float
    reason: str


def _num(x: float) -> str:
    return f"{x:.1f}" if x == 0 or 0.1 <= abs(x) < 1e6 else f"{x:.4g}"


@dataclass
class Judge:
    """Applies one rule to a sweep's variants as their progress arrives; remembers what it
    decided, so that each (variant, epoch) is judged once."""

    spec: EarlyStop
    judged: set[tuple[str, int]] = field(default_factory=set)
    """(variant, epoch) pairs judged and kept."""
    pruned: dict[str, Decision | None] = field(default_factory=dict)
    """Variants stopped (None: by an earlier engine, the reason is in the ledger)."""
    _cache: dict[str, tuple[Mapping[int, Sequence[float]], dict[int, float]]] = field(
        default_factory=dict, repr=False
    )

    def decide(self, progress: Progress, open_variants: Collection[str]) -> list[Decision]:
        """The variants of ``open_variants`` (those that can still be stopped) to stop now,
        given every variant's ``progress`` (stopped and finished ones too). A variant's
        means are computed again only when its mapping is a new object."""
        agg = self._means(progress)
        todo = {e for v in open_variants if v not in self.pruned for e in agg.get(v, ())
                if (v, e) not in self.judged and self.spec.decides_at(e)}  # fmt: skip
        out: list[Decision] = []
        for epoch in sorted(todo):
            peers = {v: by[epoch] for v, by in agg.items() if epoch in by}
            if self.spec.rule == "asha":  # a variant stopped at a lower rung is out of this one
                peers = {v: x for v, x in peers.items() if not self._out_before(v, epoch)}
            else:
                peers |= {
                    v: by[max(by)]
                    for v, by in agg.items()
                    if v in self.pruned and v not in peers and by and max(by) < epoch
                }
            if len(peers) < self.spec.min_variants:
                continue
            judge = [v for v in sorted(peers) if v in open_variants and v not in self.pruned
                     and (v, epoch) not in self.judged and epoch in agg[v]]  # fmt: skip
            for variant in judge:
                decision = self._judge(variant, epoch, peers, agg[variant])
                if decision is None:
                    self.judged.add((variant, epoch))
                else:
                    out.append(decision)
            for decision in out:
                self.pruned.setdefault(decision.variant, decision)
        return out

    def _means(self, progress: Progress) -> dict[str, dict[int, float]]:
        """Each variant's mean over its seeds per epoch, from the cache where unchanged."""
        from slc_tui.stats import ESTIMATE

        mean = ESTIMATE["mean"]
        out = {}
        for variant, by in progress.items():
            hit = self._cache.get(variant)
            if hit is None or hit[0] is not by:
                hit = (by, {e: float(mean(x)) for e, x in by.items() if x})
                self._cache[variant] = hit
            out[variant] = hit[1]
        return out

    def _out_before(self, variant: str, epoch: int) -> bool:
        decision = self.pruned.get(variant)
        return decision is not None and decision.epoch < epoch

    def _judge(
        self, variant: str, epoch: int, peers: Mapping[str, float], mine: Mapping[int, float]
    ) -> Decision | None:
        """The decision about ``variant`` (its means ``mine``) at ``epoch`` among ``peers``,
        None when it stays."""
        from slc_tui.stats import ESTIMATE

        sign = 1.0 if self.spec.mode == "max" else -1.0
        eta = self.spec.eta
        n = len(peers)
        if self.spec.rule == "median":  # its best mean so far, as Optuna's and Ray's rules
            value = sign * max(sign * x for e, x in mine.items() if e <= epoch)
            threshold = float(ESTIMATE["median"](list(peers.values())))
            word = "below" if sign > 0 else "above"
            why = f"{word} the median of {n} variants at epoch {epoch}"
        else:
            value = peers[variant]
            keep = max(1, n // self.spec.eta)
            threshold = sorted(peers.values(), key=lambda x: -sign * x)[keep - 1]
            why = f"not in the best {keep} of {n} variants at epoch {epoch} (asha, eta {eta})"
        if sign * value >= sign * threshold:
            return None
        op = "<" if sign > 0 else ">"
        return Decision(variant, epoch, value, threshold,
                        f"{why}: {_num(value)} {op} {_num(threshold)}")  # fmt: skip
