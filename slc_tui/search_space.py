"""The space a search samples: distributions (:class:`Dist`), trials, and their names.

A trial's variant is named from its values rounded to :data:`DIGITS` significant digits
(:class:`SearchGrid`; more digits where two names would meet), while its kwargs and
``config.json`` keep the exact values. Nothing here draws a value but :meth:`Dist.sample`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from slc_tui.grid import ExperimentGrid
from slc_tui.grid_keys import get_val, unflatten
from slc_tui.serialization import valid_str

KINDS = ("loguniform", "uniform", "int", "choice")
"""The distributions a parameter may take."""
DIGITS = 3
"""Significant digits of a sampled float in a variant name (more where two names would meet)."""


@dataclass(frozen=True, slots=True)
class Dist:
    """A parameter's distribution: ``kind`` over ``[low, high]``, or one of ``choices``."""

    kind: str
    low: float = 0.0
    high: float = 0.0
    choices: tuple[Any, ...] = ()

    def __str__(self) -> str:
        if self.kind == "choice":
            return f"choice of {len(self.choices)}: {list(self.choices)}"
        return f"{self.kind} [{self.low:g}, {self.high:g}]"

    def sample(self, rng: random.Random) -> Any:
        """One value drawn with ``rng``."""
        if self.kind == "loguniform":
            return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        if self.kind == "uniform":
            return rng.uniform(self.low, self.high)
        if self.kind == "int":
            return rng.randint(int(self.low), int(self.high))
        return self.choices[rng.randrange(len(self.choices))]


def dist_problem(kind: str, args: Any) -> str | None:
    """Why ``{kind = args}`` is no distribution, or None."""
    if kind not in KINDS:
        return f"{kind!r} is no distribution; use one of {', '.join(KINDS)}"
    if kind == "choice":
        return None if isinstance(args, list) and args else "choice needs a non-empty array"
    number = (int,) if kind == "int" else (int, float)
    if not (isinstance(args, list) and len(args) == 2) or not all(
        isinstance(a, number) and not isinstance(a, bool) and math.isfinite(a) for a in args
    ):
        what = "whole numbers" if kind == "int" else "finite numbers"
        return f"{kind} needs two {what} [low, high]"
    if args[0] >= args[1] and not (kind == "int" and args[0] == args[1]):
        return f"the bounds [{args[0]}, {args[1]}] are reversed or equal; give [low, high]"
    if kind == "loguniform" and args[0] <= 0:
        return f"loguniform needs bounds > 0, not {args[0]}"
    return None


def make_dist(kind: str, args: Any) -> Dist:
    """The :class:`Dist` ``{kind = args}``.

    Raises:
        ValueError: no such distribution, or bounds it cannot take.
    """
    if problem := dist_problem(kind, args):
        raise ValueError(problem)
    if kind == "choice":
        return Dist(kind, choices=tuple(args))
    if kind == "int":
        return Dist(kind, args[0], args[1])
    return Dist(kind, float(args[0]), float(args[1]))


def loguniform(low: float, high: float) -> Dist:
    """A float drawn log-uniformly from ``[low, high]`` (``grid.add("lr", loguniform(...))``)."""
    return make_dist("loguniform", [low, high])


def uniform(low: float, high: float) -> Dist:
    """A float drawn uniformly from ``[low, high]``."""
    return make_dist("uniform", [low, high])


def integer(low: int, high: int) -> Dist:
    """A whole number drawn uniformly from ``low`` to ``high``, both included."""
    return make_dist("int", [low, high])


def choice(values: Sequence[Any]) -> Dist:
    """One of ``values``."""
    return make_dist("choice", list(values))


def dists_of(grid: ExperimentGrid) -> dict[str, Dist]:
    """The keys of ``grid`` that take a distribution, in ``add`` order."""
    return {k: v[0] for k, v in zip(grid.keys, grid.vals) if len(v) == 1 and isinstance(v[0], Dist)}


def name_value(value: Any, digits: int = DIGITS) -> Any:
    """``value`` as a variant name shows it: a float rounded to ``digits`` significant digits."""
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.{digits}g}")
    return value


@dataclass
class Trial:
    """One sampled configuration: its values by key (exact), and the digits its name uses."""

    values: dict[str, Any]
    digits: int = DIGITS
    extra: dict[str, Any] = field(default_factory=dict)
    """What a sampler keeps of it (Optuna's trial number)."""


class SearchGrid(ExperimentGrid):
    """A grid whose sampled keys are named with rounded values (``digits``)."""

    def __init__(self, name: str = "", rounded: Sequence[str] = (), digits: int = DIGITS) -> None:
        super().__init__(name)
        self.rounded = list(rounded)
        """The keys whose float values are rounded in names."""
        self.name_digits = digits

    def _shown(self, variant: dict[str, Any]) -> dict[str, Any]:
        flat = {k: get_val(variant, k) for k in self.keys}
        flat.update((k, name_value(flat[k], self.name_digits)) for k in self.rounded)
        return unflatten(flat)

    def variant_name(self, variant: dict[str, Any]) -> str:
        """The reference's name, with the sampled values rounded."""
        return super().variant_name(self._shown(variant))

    def name_parts(self) -> list[list[str] | None]:
        """The reference's name parts, with the sampled values rounded."""
        parts = super().name_parts()
        for i, key in enumerate(self.keys):
            if key in self.rounded and parts[i] is not None:
                sh = self.shs[i]
                head = "_" + valid_str(sh if sh is not None else key)
                parts[i] = [head + valid_str(name_value(x, self.name_digits)) for x in self.vals[i]]
        return parts


def rounded(dists: Mapping[str, Dist]) -> list[str]:
    """The keys whose values are rounded in names: those drawn from a float range."""
    return [k for k, d in dists.items() if d.kind in ("loguniform", "uniform")]


def trial_grid(base: ExperimentGrid, trials: Sequence[Trial]) -> SearchGrid:
    """``base`` with its distributions replaced by the ``trials``' values, zipped together
    (every trial still runs with every seed and every combination of the other keys)."""
    dists = dists_of(base)
    digits = max((t.digits for t in trials), default=DIGITS)
    grid = SearchGrid(base.grid_name, rounded(dists), digits)
    for key, vals, sh, inn in zip(base.keys, base.vals, base.shs, base.in_names):
        if key in dists:
            grid.add(key, [t.values[key] for t in trials], shorthand=sh, in_name=True)
        else:
            grid.add(key, vals, shorthand=sh, in_name=inn)
    for group in base.zipped:
        grid.zip(*group)
    for combination in base.excluded:
        grid.exclude(combination)
    if len(dists) > 1 and len(trials) > 1:
        grid.zip(*dists)
    return grid


def trial_name(base: ExperimentGrid, trial: Trial) -> str:
    """The part of the variant name that the trial's values make (its sampled keys only)."""
    dists = dists_of(base)
    grid = SearchGrid("", rounded(dists), trial.digits)
    for key in dists:
        sh = base.shs[base.keys.index(key)]
        grid.add(key, trial.values[key], shorthand=sh, in_name=True)
    return grid.variant_name(unflatten(dict(trial.values)))


def distinct(base: ExperimentGrid, trial: Trial, taken: Mapping[str, Trial]) -> Trial | None:
    """``trial`` with enough digits that its name differs from every name in ``taken``; None
    when a trial of ``taken`` has the very same values (the configuration is known)."""
    while True:
        name = trial_name(base, trial)
        other = taken.get(name)
        if other is None:
            return trial
        if other.values == trial.values or trial.digits >= 17:
            return None
        trial.digits += 1
