"""A drop-in for ``stable_learning_control.utils.run_utils`` (SpinningUp's ``run_utils``).

``from slc_tui.run_utils import ExperimentGrid, call_experiment, setup_logger_kwargs`` works
as with the reference. The naming and variant rules live in :mod:`slc_tui.grid`, one
experiment in :mod:`slc_tui.experiment`; this module adds :meth:`ExperimentGrid.run`, which
runs the grid through the sweep layer with the headless printer or the dashboard: it is a
face, like the command line (see ARCHITECTURE.md). Importing it stays cheap: the sweep layer
and the faces are imported only when a grid runs.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Callable

from slc_tui import grid as _grid
from slc_tui.cpus import resolve_num_cpu
from slc_tui.errors import SlcError
from slc_tui.experiment import (
    DIV_LINE_WIDTH,
    RESERVED_KEYS,
    ExperimentError,
    call_experiment,
    colorize,
    setup_logger_kwargs,
)
from slc_tui.grid import default_shorthand
from slc_tui.states import COMPLETE

if TYPE_CHECKING:
    from slc_tui.engine.ledger import RunRecord

__all__ = [
    "DIV_LINE_WIDTH",
    "RESERVED_KEYS",
    "ExperimentError",
    "ExperimentGrid",
    "ExperimentsFailed",
    "call_experiment",
    "colorize",
    "default_shorthand",
    "resolve_num_cpu",
    "setup_logger_kwargs",
]


class ExperimentGrid(_grid.ExperimentGrid):
    """Tool for running many experiments given hyperparameter ranges."""

    def run(
        self,
        thunk: str | Callable[..., Any],
        num_cpu: int | str = 1,
        data_dir: str | None = None,
        datestamp: bool = False,
        **engine_options: Any,
    ) -> Any:
        """Run every variant with ``thunk`` on the parallel engine.

        ``thunk`` is a callable, or the name of a grid parameter whose values are the
        callables (as in the reference). ``num_cpu``, ``data_dir`` and ``datestamp`` mean
        what they mean for ``call_experiment``. ``engine_options``: ``ui=True`` opens the
        dashboard, ``resume=True``, ``gpus_per_run=`` (GPU devices per run: 0, a fraction, or
        a whole number), ``early_stop={"rule": "median", "metric": "AverageEpRet", ...}``
        (the keys of a grid file's ``[early_stop]`` table), ``search=`` (a dict of the
        ``[search]`` keys, or a ``slc_tui.search.Search``: the keys added with a distribution,
        such as ``search.loguniform(1e-5, 1e-2)``, are sampled), and the ``[run]`` settings
        (``max_cpus``, ``gpus``, ``retries``, ``timeout``, ``fail_fast``, ``backend``...); an
        unknown one is a ``TypeError`` that names the nearest known one.

        Raises:
            ExperimentsFailed: after every run ended, when some did not succeed (its
                ``failed`` lists their ledger records).
        """
        return _run_grid(
            self, thunk, num_cpu=num_cpu, data_dir=data_dir, datestamp=datestamp, **engine_options
        )


class ExperimentsFailed(SlcError, RuntimeError):
    """Raised by ``ExperimentGrid.run`` after the sweep when some runs did not succeed."""

    def __init__(self, failed: list[RunRecord]) -> None:
        self.failed = failed
        """The ledger records of the runs that did not succeed."""
        lines = [f"  {r.name}: {r.state}{': ' + r.reason if r.reason else ''}" for r in failed]
        super().__init__(f"{len(failed)} run(s) did not succeed:\n" + "\n".join(lines))


def _run_grid(
    grid: ExperimentGrid,
    thunk: Any,
    num_cpu: Any = 1,
    data_dir: str | None = None,
    datestamp: bool = False,
    *,
    gpus_per_run: float = 0.0,
    search: Any = None,
    ui: bool = False,
    resume: bool = False,
    early_stop: Any = None,
    **options: Any,
) -> None:
    """``ExperimentGrid.run``: every variant, in parallel inside the CPU budget."""
    from slc_tui.early_stop import from_python
    from slc_tui.options import RunOptions
    from slc_tui.search import Search
    from slc_tui.sweep import prepare
    from slc_tui.sweep.lifecycle import start_background

    try:
        opts = RunOptions().override(**options)
    except SlcError as exc:
        raise TypeError(f"ExperimentGrid.run() got {exc}") from None
    sweep = prepare.from_grid(grid, thunk, opts, num_cpu=num_cpu, gpus_per_run=gpus_per_run,
                              data_dir=data_dir, datestamp=datestamp,
                              early_stop=from_python(early_stop),
                              search=Search.of(search))  # fmt: skip
    grid.print()
    if ui:
        from slc_tui.headless import interactive

        ui = interactive()
        if not ui:
            print("slc-tui: no terminal: running headless (ui=False)", file=sys.stderr)
    if ui:
        from slc_tui.ui.app import run_dashboard

        handle, _ = start_background(sweep, resume)
        run_dashboard(handle.paths, owns_engine=True)
        if handle.alive():
            return  # left running in the background: the dashboard said how to reach it
        state = handle.state()
        records = state.records()
        state.close()
    else:
        from slc_tui.headless import run_headless

        outcome = run_headless(sweep, resume)
        if outcome.status == 130:
            raise KeyboardInterrupt
        records = outcome.records
    failed = [r for r in records if r.state not in COMPLETE]
    if failed:
        raise ExperimentsFailed(failed)
