"""The plan: a grid's variants turned into runs (name, seed, kwargs, output dir, ranks).

Nothing here starts a process or writes to the disk. Planning is linear in the number of
variants: a plan's runs are a list (what the engine runs) or, for a dry run, a
:class:`~slc_tui.runs.LazyRuns` that makes each run when asked for.

Paths: every part of a run's folder and payload that comes from the user's values (the grid
name, each parameter value, the seed, the datestamp) is a name-safe word or refused, and each
run's resolved folder and payload are checked to lie inside ``data_dir`` and to fit the file
system's NAME_MAX and PATH_MAX (:mod:`slc_tui.runpaths`), before anything runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slc_tui.cpus import iter_waves, resolve_num_cpu
from slc_tui.errors import InputError, SweepError
from slc_tui.experiment import logger_kwargs_problem
from slc_tui.options import RunOptions
from slc_tui.runpaths import grid_problem
from slc_tui.runs import LazyRuns, Row, Run, grouped

if TYPE_CHECKING:
    from slc_tui.early_stop import EarlyStop
    from slc_tui.grid import ExperimentGrid
    from slc_tui.gridfile import GridSpec
    from slc_tui.payload import Thunk
    from slc_tui.search import Search, SearchPlan

__all__ = ["GridPlan", "LazyRuns", "PlanError", "Row", "Run", "check_distinct", "check_plans",
           "pack_waves", "plan_grid", "plan_specs"]  # fmt: skip


class PlanError(InputError, ValueError):
    """A grid that cannot run as planned (two runs share an output directory, say)."""

    def __init__(self, message: str, key: str | None = None, problem: str = "") -> None:
        super().__init__(message)
        self.key = key
        """The grid key the problem is about, if one is (a grid file then names its line)."""
        self.problem = problem or message
        """The message without the grid it is about."""


@dataclass
class GridPlan:
    """The runs of one grid, with where its ledger and payloads go."""

    name: str
    data_dir: str
    runs: Sequence[Run]
    """A list, or for a dry run :class:`LazyRuns`."""
    source: str = ""
    """The grid file, or ``""`` for a grid built in Python."""
    early_stop: EarlyStop | None = None
    """The grid's ``[early_stop]`` rule, if any (:mod:`slc_tui.engine.prune` applies it)."""
    search: SearchPlan | None = None
    """The grid's search (random or Optuna), if it has one (:mod:`slc_tui.search`)."""

    def rows(self) -> Iterator[Row]:
        """``(variant, name, output_dir)`` of every run, in plan order."""
        if isinstance(self.runs, LazyRuns):
            return self.runs.rows()
        return ((r.variant, r.name, r.output_dir) for r in self.runs)

    def groups(self) -> Iterator[tuple[str, list[Row]]]:
        """The runs by variant, in the order variants first appear."""
        if isinstance(self.runs, LazyRuns):
            return self.runs.groups()
        return grouped(self.rows())

    def segments(self) -> list[tuple[int, int]]:
        """``(count, num_cpu)`` of each stretch of consecutive runs of equal ranks."""
        if isinstance(self.runs, LazyRuns):
            return [(len(self.runs), self.runs.num_cpu)] if len(self.runs) else []
        out: list[tuple[int, int]] = []
        for run in self.runs:
            if out and out[-1][1] == run.num_cpu:
                out[-1] = (out[-1][0] + 1, run.num_cpu)
            else:
                out.append((1, run.num_cpu))
        return out


def plan_grid(
    grid: ExperimentGrid,
    thunk: Thunk,
    *,
    num_cpu: Any = 1,
    gpus_per_run: float = 0.0,
    data_dir: str | os.PathLike[str] | None = None,
    datestamp: bool = False,
    options: RunOptions | None = None,
    start_idx: int = 0,
    source: str = "",
    lazy: bool = False,
    early_stop: EarlyStop | None = None,
    search: Search | None = None,
) -> GridPlan:
    """Turn every variant of ``grid`` into a run, as ``ExperimentGrid.run`` would call them.

    Args:
        grid: the experiment grid.
        thunk: a callable or ``module:function`` reference; a string that names one of the
            grid's keys takes each variant's value of that key, as in the reference.
        num_cpu: ranks per run (int or ``"auto"``).
        gpus_per_run: GPU devices per run (0, a fraction of one, or a whole number).
        data_dir: where results go (default: ``DEFAULT_DATA_DIR``).
        datestamp: add a date and time (one for the whole plan) to output directories.
        options: the grid's run options.
        start_idx: plan position of the first run (for several grids in one plan).
        source: the grid file, for messages.
        lazy: make each run only when it is asked for (a dry run of a huge grid).
        early_stop: the grid's early-stopping rule.
        search: sample the keys that take a distribution (:mod:`slc_tui.search`).

    Raises:
        PlanError: two runs would share one output directory; a ``logger_kwargs`` that is
            no dict or sets ``output_dir`` or ``exp_name``; a grid name, value or seed
            that cannot be part of a path; a folder, log or payload that would not lie
            inside ``data_dir`` or is longer than the file system allows.
    """
    from slc_tui.user_config import default_data_dir

    where = f"grid {grid.grid_name!r}{' in ' + source if source else ''}"
    folder = os.fspath(data_dir) if data_dir is not None else default_data_dir()
    if "\0" in folder:
        problem = f"the data directory {folder!r} has a NUL byte"
        raise PlanError(f"{where}: {problem}", "data_dir", problem)
    folder = os.path.abspath(folder)
    try:
        ranks = resolve_num_cpu(num_cpu)
    except ValueError as exc:
        raise PlanError(f"{where}: {exc}", "num_cpu", str(exc)) from None
    for key, vals in zip(grid.keys, grid.vals):
        if wrong := logger_kwargs_problem(key, vals):  # a grid changed after add()
            raise PlanError(f"{where}: [{key}] {wrong}", key, wrong)
    from slc_tui.search import SearchError, SearchPlan, setup

    try:
        planned, trials = setup(grid, search)
    except SearchError as exc:
        raise PlanError(f"{where}: [{exc.key}] {exc.problem}", exc.key, exc.problem) from None
    found_search = None if search is None or search.method == "grid" else SearchPlan(
        search, grid, {"thunk": thunk, "num_cpu": ranks, "gpus_per_run": gpus_per_run,
                       "data_dir": folder, "datestamp": datestamp, "options": options,
                       "source": source}, trials)  # fmt: skip
    if planned is None:  # Optuna: the engine plans each trial as it is asked
        return GridPlan(grid.grid_name, folder, [], source, early_stop, found_search)
    runs = LazyRuns(planned, thunk, folder, ranks=ranks, datestamp=datestamp, options=options,
                    start_idx=start_idx, gpus=gpus_per_run)  # fmt: skip
    found = grid_problem(runs)
    if found:
        raise PlanError(f"{where}: {found[0]}", found[1], found[0])
    plan = GridPlan(grid.grid_name, folder, runs, source, early_stop, found_search)
    if not lazy:
        plan.runs = list(runs)
    return plan


def plan_specs(
    specs: Sequence[GridSpec], overrides: dict[str, Any] | None = None, lazy: bool = False
) -> list[GridPlan]:
    """Plan every grid file; runs of all grids get one plan order.

    Raises:
        GridFileError: a problem of one grid's runs that a key of its file causes.
        PlanError: two runs, in one grid or across grids, share an output directory.
    """
    plans: list[GridPlan] = []
    idx = 0
    for spec in specs:
        try:
            plan = plan_grid(spec.grid, spec.thunk, num_cpu=spec.num_cpu,
                             gpus_per_run=spec.gpus_per_run,
                             data_dir=spec.data_dir, datestamp=spec.datestamp,
                             options=spec.options.override(**(overrides or {})),
                             start_idx=idx, source=str(spec.path), lazy=lazy,
                             early_stop=spec.early_stop, search=spec.search)  # fmt: skip
        except PlanError as exc:
            if exc.key is None:
                raise
            table = "grid" if exc.key in ("data_dir", "num_cpu") else "params"
            key = exc.key if exc.key.startswith("search.") else f"{table}.{exc.key}"
            raise spec.error(key, exc.problem) from None
        idx += len(plan.runs)
        plans.append(plan)
    check_distinct(plans)
    return plans


def check_distinct(plans: Sequence[GridPlan]) -> None:
    """Raise PlanError when runs of different grids would share an output directory."""
    if len(plans) < 2:
        return  # plan_grid found the clashes inside one grid
    owner: dict[str, str] = {}
    for plan in plans:
        mine = plan.source or plan.name
        for _, name, output_dir in plan.rows():
            other = owner.setdefault(output_dir, mine)
            if other != mine:
                raise PlanError(
                    f"run {name!r} of {mine} and a run of {other} "
                    f"would share the output directory {output_dir}; rename one grid"
                )


def pack_waves(runs: Sequence[Run], budget: int) -> list[list[Run]]:
    """How runs of equal length pack into ``budget`` slots: the runs that start together.

    The engine starts runs in plan order whenever enough slots are free (a run that does not
    fit lets later, smaller runs go first), so with equal durations runs go in waves
    (:func:`~slc_tui.cpus.iter_waves`, linear in the number of runs).
    """
    segments = GridPlan("", "", runs).segments()
    return [
        [runs[i] for a, b in wave for i in range(a, b)] for wave in iter_waves(segments, budget)
    ]


def check_plans(plans: Sequence[GridPlan], budget: int) -> None:
    """Raise SweepError when a run needs more CPUs than the budget, or two runs share a name."""
    for plan in plans:
        start = 0
        for count, num_cpu in plan.segments():
            run = plan.runs[start]
            start += count
            if num_cpu > budget and not run.options.oversubscribe:
                raise SweepError(
                    f"run {run.name!r} of {plan.source or plan.name} needs {num_cpu} CPUs "
                    f"but the CPU budget is {budget}",
                    cli="raise --max-cpus, lower num_cpu, or set oversubscribe = true in [run]",
                    python="raise max_cpus=, lower num_cpu=, or pass oversubscribe=True",
                )
    if len(plans) < 2:
        return  # names inside one grid are distinct (plan_grid)
    names: set[str] = set()
    for plan in plans:
        for _, name, _ in plan.rows():
            if name in names:
                raise SweepError(f"two grids have a run named {name!r}; rename a grid")
            names.add(name)
