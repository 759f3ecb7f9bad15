"""The plan: a grid's variants turned into runs (name, seed, kwargs, output dir, ranks).

Pure and fast: nothing here starts a process or touches the disk.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from slc_tui.cpus import resolve_num_cpu
from slc_tui.errors import InputError, SweepError
from slc_tui.options import RunOptions

if TYPE_CHECKING:
    from slc_tui.grid import ExperimentGrid
    from slc_tui.gridfile import GridSpec
    from slc_tui.payload import Thunk


class PlanError(InputError, ValueError):
    """A grid that cannot run as planned (two runs share an output directory, say)."""


@dataclass
class Run:
    """One run of the plan: ``thunk(**kwargs)`` writing into ``output_dir``."""

    name: str
    """Unique name: ``exp_name_s{seed}``, the basename of the output directory."""
    idx: int
    """Position in the plan."""
    grid: str
    """Name of the grid the run belongs to."""
    variant: str
    """The seedless variant name (the reference's ``exp_name``)."""
    seed: Any
    kwargs: dict[str, Any]
    """Keyword arguments of the thunk, ``seed`` and ``logger_kwargs`` included."""
    output_dir: str
    num_cpu: int
    """MPI ranks (slots of the CPU budget) the run takes."""
    thunk: Thunk
    options: RunOptions = field(default_factory=RunOptions)
    """Options of the run's grid (retries, timeout...)."""

    @property
    def params(self) -> dict[str, Any]:
        """The kwargs the user chose (without ``logger_kwargs``)."""
        return {k: v for k, v in self.kwargs.items() if k != "logger_kwargs"}


@dataclass
class GridPlan:
    """The runs of one grid, with where its ledger and payloads go."""

    name: str
    data_dir: str
    runs: list[Run]
    source: str = ""
    """The grid file, or ``""`` for a grid built in Python."""


def plan_grid(
    grid: ExperimentGrid,
    thunk: Thunk,
    *,
    num_cpu: Any = 1,
    data_dir: str | os.PathLike[str] | None = None,
    datestamp: bool = False,
    options: RunOptions | None = None,
    start_idx: int = 0,
    source: str = "",
) -> GridPlan:
    """Turn every variant of ``grid`` into a run, as ``ExperimentGrid.run`` would call them.

    Args:
        grid: the experiment grid.
        thunk: a callable or ``module:function`` reference; a string that names one of the
            grid's keys takes each variant's value of that key, as in the reference.
        num_cpu: ranks per run (int or ``"auto"``).
        data_dir: where results go (default: ``DEFAULT_DATA_DIR``).
        datestamp: add a date and time to output directories.
        options: the grid's run options.
        start_idx: plan position of the first run (for several grids in one plan).
        source: the grid file, for messages.

    Raises:
        PlanError: two runs would share one output directory.
    """
    from slc_tui.experiment import setup_logger_kwargs
    from slc_tui.user_config import default_data_dir

    data_dir = os.path.abspath(os.fspath(data_dir) if data_dir is not None else default_data_dir())
    ranks = resolve_num_cpu(num_cpu)
    options = options or RunOptions()
    thunk_key = thunk if isinstance(thunk, str) and thunk in grid.keys else None
    runs: list[Run] = []
    seen: dict[str, str] = {}
    for i, variant in enumerate(grid.variants()):
        exp_name = grid.variant_name(variant)
        kwargs = dict(variant)  # variants() gives each variant fresh copies of its values
        run_thunk = kwargs.pop(thunk_key) if thunk_key else thunk
        seed = kwargs.get("seed", 0)
        kwargs["seed"] = seed
        logger_kwargs = setup_logger_kwargs(exp_name, seed, data_dir, datestamp)
        kwargs["logger_kwargs"] = logger_kwargs
        output_dir = os.path.abspath(logger_kwargs["output_dir"])
        name = f"{exp_name}_s{seed}"
        if output_dir in seen or name in seen:
            other = seen.get(output_dir) or seen[name]
            raise PlanError(
                f"grid {grid.grid_name!r}{' in ' + source if source else ''}: variants "
                f"{other!r} and {name!r} would share the output directory {output_dir}; "
                "give the parameters that differ distinct values or shorthands, or in_name"
            )
        seen[output_dir] = seen[name] = name
        runs.append(
            Run(
                name=name,
                idx=start_idx + i,
                grid=grid.grid_name,
                variant=exp_name,
                seed=seed,
                kwargs=kwargs,
                output_dir=output_dir,
                num_cpu=ranks,
                thunk=run_thunk,
                options=options,
            )
        )
    return GridPlan(name=grid.grid_name, data_dir=data_dir, runs=runs, source=source)


def plan_specs(
    specs: Sequence[GridSpec], overrides: dict[str, Any] | None = None
) -> list[GridPlan]:
    """Plan every grid file; runs of all grids get one plan order.

    Raises:
        PlanError: two runs, in one grid or across grids, share an output directory.
    """
    plans: list[GridPlan] = []
    idx = 0
    for spec in specs:
        plan = plan_grid(
            spec.grid,
            spec.thunk,
            num_cpu=spec.num_cpu,
            data_dir=spec.data_dir,
            datestamp=spec.datestamp,
            options=spec.options.override(**(overrides or {})),
            start_idx=idx,
            source=str(spec.path),
        )
        idx += len(plan.runs)
        plans.append(plan)
    check_distinct(plans)
    return plans


def check_distinct(plans: Iterable[GridPlan]) -> None:
    """Raise PlanError when runs of different grids would share an output directory."""
    owner: dict[str, str] = {}
    for plan in plans:
        for run in plan.runs:
            other = owner.setdefault(run.output_dir, plan.source or plan.name)
            if other != (plan.source or plan.name):
                raise PlanError(
                    f"run {run.name!r} of {plan.source or plan.name} and a run of {other} "
                    f"would share the output directory {run.output_dir}; rename one grid"
                )


def pack_waves(runs: Sequence[Run], budget: int) -> list[list[Run]]:
    """How runs of equal length pack into ``budget`` slots: the runs that start together.

    The engine starts runs in plan order whenever enough slots are free (a run that does not
    fit lets later, smaller runs go first), so with equal durations runs go in waves.
    """
    waves: list[list[Run]] = []
    pending = list(runs)
    while pending:
        free, wave, rest = budget, [], []
        for run in pending:
            need = min(run.num_cpu, budget)
            if need <= free:
                wave.append(run)
                free -= need
            else:
                rest.append(run)
        waves.append(wave)
        pending = rest
    return waves


def check_plans(plans: Sequence[GridPlan], budget: int) -> None:
    """Raise SweepError when a run needs more CPUs than the budget, or two runs share a name."""
    names: set[str] = set()
    for plan in plans:
        for run in plan.runs:
            if run.name in names:
                raise SweepError(f"two grids have a run named {run.name!r}; rename a grid")
            names.add(run.name)
            if run.num_cpu > budget and not run.options.oversubscribe:
                raise SweepError(
                    f"run {run.name!r} of {plan.source or plan.name} needs {run.num_cpu} CPUs "
                    f"but the CPU budget is {budget}",
                    cli="raise --max-cpus, lower num_cpu, or set oversubscribe = true in [run]",
                    python="raise max_cpus=, lower num_cpu=, or pass oversubscribe=True",
                )
