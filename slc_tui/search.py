"""Search beyond the full grid: the ``[search]`` settings, and what a grid plans for them.

A parameter may take a distribution (:mod:`slc_tui.search_space`: ``loguniform``,
``uniform``, ``int``, ``choice``) instead of a list; the grid's other keys stay grid axes
and ``seed`` the seed axis. A *trial* is one sampled configuration: a variant that runs with
every seed (and, for random search, every combination of the grid axes). Random search
samples its trials up front from ``seed`` (:func:`sample`), so they plan like grid variants;
Optuna asks them while the sweep runs (``engine.trials``).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from slc_tui.errors import InputError
from slc_tui.grid import ExperimentGrid
from slc_tui.search_space import (
    DIGITS,
    Dist,
    Trial,
    choice,
    dists_of,
    integer,
    loguniform,
    trial_grid,
    trial_name,
    uniform,
)

__all__ = ["Dist", "Search", "SearchError", "SearchPlan", "choice", "integer", "loguniform",
           "sample", "setup", "uniform"]  # fmt: skip

METHODS = ("grid", "random", "optuna")
MODES = ("max", "min")
OBJECTIVES = ("mean", "iqm", "median")
SEARCH_KEYS = ("method", "trials", "metric", "mode", "objective", "seed")
MAX_TRIALS = 100_000
"""The most trials a search may ask for: a random search draws them all before anything runs
(20,000 in about 0.7 s here), so a mistyped count is refused instead of filling the memory."""
DRAWS = 50
"""Draws per trial a random search may take to find configurations that all differ."""


@dataclass(frozen=True)
class Search:
    """How a grid's trials are chosen and judged (``[search]``, or ``run(search=...)``)."""

    method: str = "grid"
    """``grid`` (every combination), ``random`` or ``optuna``."""
    trials: int = 10
    """Configurations to try (each with every seed)."""
    metric: str = ""
    """The progress column judged."""
    mode: str = "max"
    """Whether higher (``max``) or lower (``min``) is better."""
    objective: str = "mean"
    """The seed aggregate at the final epoch: ``mean``, ``iqm`` or ``median``."""
    seed: int = 0
    """Seed of the sampler."""

    @classmethod
    def of(cls, given: Search | Mapping[str, Any] | None) -> Search | None:
        """A search from ``run(search=...)``'s dict (or a Search, or None).

        Raises:
            InputError: an unknown key or a value it cannot take (the message names it).
        """
        if given is None or isinstance(given, Search):
            found = given
        else:
            unknown = [k for k in given if k not in SEARCH_KEYS]
            if unknown:
                raise InputError(
                    f"search: unknown key {unknown[0]!r}; known: {', '.join(SEARCH_KEYS)}"
                )
            found = cls(**given)
        if found is not None and (bad := found.problem()):
            raise InputError(f"search: {bad[0]} {bad[1]}")
        if found is not None and found.method == "optuna" and optuna_missing():
            raise InputError('search: method "optuna" needs Optuna, which is not installed; '
                             'pip install "slc-tui[search]" (or optuna)')  # fmt: skip
        return found

    def problem(self) -> tuple[str, str] | None:
        """``(key, why)`` of the first setting that cannot be, or None."""
        checks = [
            ("method", self.method in METHODS, f"must be one of {', '.join(METHODS)}"),
            ("trials", isinstance(self.trials, int) and not isinstance(self.trials, bool)
             and 1 <= self.trials <= MAX_TRIALS, f"must be a whole number from 1 to "
             f"{MAX_TRIALS:,}"),
            ("metric", self.method == "grid" or (isinstance(self.metric, str)
             and bool(self.metric.strip())), 'is missing; name the progress column to judge, '
             'e.g. metric = "AverageEpRet"'),
            ("mode", self.mode in MODES, 'must be "max" or "min"'),
            ("objective", self.objective in OBJECTIVES, f"must be one of {', '.join(OBJECTIVES)}"),
            ("seed", isinstance(self.seed, int) and not isinstance(self.seed, bool),
             "must be a whole number"),
        ]  # fmt: skip
        return next(((k, why) for k, ok, why in checks if not ok), None)

    def lines(self, dists: Mapping[str, Dist]) -> list[str]:
        """The search in words (the dry run's)."""
        head = f"search: {self.method}, {self.trials} trial{'s' if self.trials != 1 else ''}"
        goal = f"{self.mode} {self.objective} of {self.metric} over seeds at the final epoch"
        out = [f"{head}, {goal}, sampler seed {self.seed}"]
        out += [f"  {key} ~ {dist}" for key, dist in dists.items()]
        return out


def optuna_missing() -> bool:
    """Whether Optuna cannot be imported (it is looked for, not imported)."""
    import importlib.util

    return importlib.util.find_spec("optuna") is None


def sample(base: ExperimentGrid, search: Search) -> list[Trial]:
    """The ``search.trials`` configurations of a random search, drawn from ``search.seed``:
    the same seed gives the same trials; configurations that would repeat are drawn again.

    Raises:
        InputError: the distributions hold fewer distinct configurations than ``trials``.
    """
    dists = dists_of(base)
    rng = random.Random(search.seed)
    found: dict[str, dict[str, Any]] = {}  # by their repr: a set of unhashable values
    for _ in range(search.trials * DRAWS):
        values = {k: d.sample(rng) for k, d in dists.items()}
        found.setdefault(repr(values), values)
        if len(found) == search.trials:
            break
    else:
        raise InputError(
            f"the distributions gave only {len(found)} distinct configurations in "
            f"{search.trials * DRAWS} draws; lower trials (or widen the distributions)"
        )
    digits = DIGITS  # the fewest digits (from 3) that name every trial apart
    trials = list(found.values())
    while len({trial_name(base, Trial(v, digits)) for v in trials}) < len(trials) and digits < 17:
        digits += 1
    return [Trial(values, digits) for values in trials]


class SearchError(InputError, ValueError):
    """A search that cannot be: ``key`` is the grid-file key at fault (``search.trials``, or
    a parameter's key)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(problem)
        self.key = key
        self.problem = problem


def setup(grid: ExperimentGrid, search: Search | None) -> tuple[ExperimentGrid | None, list[Trial]]:
    """The grid to plan for ``search``: ``grid`` itself (no search), the random trials zipped
    into it, or None for Optuna (whose trials the engine asks while the sweep runs).

    Raises:
        SearchError: a distribution without a search, a search without a distribution, a
            grid axis beside Optuna, or too few distinct configurations.
    """
    dists = dists_of(grid)
    method = "grid" if search is None else search.method
    if not dists and method == "grid":
        return grid, []
    if method == "grid":
        raise SearchError(
            next(iter(dists)),
            "takes a distribution, which only a search "
            'samples; set [search] method = "random" or "optuna", or give a list',
        )
    assert search is not None
    if not dists:
        raise SearchError("search.method", f'"{method}" samples the parameters that take a '
                          "distribution, and none does; give one, e.g. lr = { loguniform = "
                          "[1e-5, 1e-2] }")  # fmt: skip
    if method == "optuna":
        axes = [k for k, v in zip(grid.keys, grid.vals) if len(v) > 1 and k != "seed"]
        if axes:
            raise SearchError(
                axes[0],
                "has several values, and an Optuna trial is one "
                "configuration; write it { choice = [...] } to let Optuna pick",
            )
        return None, []
    try:
        trials = sample(grid, search)
    except InputError as exc:
        raise SearchError("search.trials", str(exc)) from None
    return trial_grid(grid, trials), trials


@dataclass
class SearchPlan:
    """What the engine needs to plan an Optuna search's trials as they are asked."""

    search: Search
    base: ExperimentGrid
    """The grid as given, distributions in place."""
    plan_args: dict[str, Any]
    """``plan_grid``'s arguments for a trial's grid (thunk, ranks, data_dir...)."""
    trials: list[Trial] = field(default_factory=list)
    """A random search's trials (an Optuna search's come from its study)."""

    @property
    def dists(self) -> dict[str, Dist]:
        """The sampled keys and their distributions."""
        return dists_of(self.base)


def plan_lines(found: SearchPlan | None) -> list[str]:
    """A grid's search in words, for the dry run (none without a search)."""
    if found is None:
        return []
    lines = found.search.lines(found.dists)
    if found.search.method == "optuna":
        seeds = found.base.vals[found.base.keys.index("seed")] if "seed" in found.base.keys else [0]
        lines.append("  the trials are asked from Optuna while the sweep runs (the study is kept "
                     f"beside the ledger, NAME.optuna.log); each runs with every seed: up to "
                     f"{found.search.trials * len(seeds):,} runs")  # fmt: skip
    else:
        lines.append(f"  {len(found.trials)} configurations sampled up front; each runs with "
                     "every seed, as the variants below")  # fmt: skip
    return lines
