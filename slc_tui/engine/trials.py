"""The searches an engine tends while its sweep runs: Optuna's trials asked and told, and each
search's best variant so far, kept in its ledger's meta (``search``) for the views.

A random search's trials are planned up front (:mod:`slc_tui.search`); an Optuna search's
plan starts empty. Its study is a journal beside the ledger,
``DATA_DIR/.slc-tui/NAME.optuna.log``. Before the ledgers are taken, :meth:`Searches.load`
reads a resumed study (writing nothing) and plans the runs of the trials it holds, so that
the ledger keeps them (finished trials are not rerun, the count goes on); once the grids'
locks are held, :meth:`Searches.start` makes the study where none was loaded (a start
without resume replaces the old one). Once per turn in which runs may start,
:meth:`Searches.turn` tells the study each trial whose seeds all ended (the ``objective`` of
``metric`` over the seeds that succeeded, at their final epoch), asks new trials while fewer
than a batch (as many trials as the CPU budget runs at once) are going, and adds their runs
to the records and the ledger, as reconcile adds new runs at the start
(:mod:`slc_tui.engine.study` holds Optuna's side).
"""

from __future__ import annotations

import math
import os
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from slc_tui.engine.book import Book
from slc_tui.engine.paths import open_private, private_dir, state_dir
from slc_tui.engine.progress import read_progress
from slc_tui.engine.reconcile import record_of
from slc_tui.engine.study import open_study, study_path, suggest, values_of
from slc_tui.plan import GridPlan, PlanError, Run, plan_grid
from slc_tui.search_space import DIGITS, Trial, distinct, trial_grid, trial_name
from slc_tui.states import Resume, RunState

if TYPE_CHECKING:
    from slc_tui.engine.ledger import RunRecord
    from slc_tui.search import SearchPlan


def objective_of(records: list[RunRecord], metric: str, objective: str) -> float | None:
    """The seed aggregate (``mean``, ``iqm`` or ``median``) of ``metric`` at each seed's final
    epoch, over the seeds that succeeded (:func:`slc_tui.stats.variant_stats`); None when no
    seed has a value. (numpy and the statistics are imported here: an engine of a sweep
    without a search never pays for them.)"""
    import numpy as np

    from slc_tui.stats import Seed, columns_of, variant_stats

    seeds = []
    for r in records:
        names, rows = read_progress(r.output_dir)
        failed = "" if r.state == RunState.SUCCEEDED else str(r.state)
        seeds.append(Seed(r.name, columns_of(names, rows), np.arange(1.0, len(rows) + 1), failed))
    value = getattr(variant_stats(records[0].grid, records[0].variant, seeds, metric).stats,
                    objective)  # fmt: skip
    return None if value is None or not math.isfinite(value) else float(value)


@dataclass
class Variant:
    """A trial's variant as the search follows it."""

    runs: list[str]
    """Its runs (one per seed)."""
    number: int | None = None
    """Its Optuna trial (None: a random search's)."""
    done: bool = False
    """Whether every run ended and the objective was taken."""
    value: float | None = None
    twins: list[int] = field(default_factory=list)
    """Optuna trials that asked for the very same configuration, told its value."""


class GridSearch:
    """The search of one grid."""

    def __init__(self, plan: GridPlan, found: SearchPlan, book: Book, runs: dict[str, Run],
                 cores: int) -> None:  # fmt: skip
        self.plan, self.found, self.search, self.book = plan, found, found.search, book
        self.engine_runs = runs
        self.cores = cores
        self.variants: dict[str, Variant] = {}
        for run in plan.runs:
            self.variants.setdefault(run.variant, Variant([])).runs.append(run.name)
        self.names: dict[str, tuple[Trial, str]] = {}
        """Each Optuna trial's name part -> (trial, variant)."""
        self.waiting: list[Run] = []
        """Runs of trials just asked that the ledger has yet to take."""
        self.batch = 1
        self.study: Any = None
        self.asked = 0
        """Trials the study holds (asked by this engine or an earlier one)."""

    # -- Optuna ------------------------------------------------------------------------------
    def load(self, resume: Resume) -> None:
        """Before the ledgers are taken (nothing is written): a resumed search's study, and
        the runs of the trials it holds, planned so that the ledger keeps them."""
        path = study_path(self.plan.data_dir, self.plan.name)
        if resume == Resume.ALL or not path.is_file():
            return
        self.study = open_study(path, self.plan.name, self.search, create=False)
        if self.study is None:
            return
        self.asked = len(self.study.get_trials(deepcopy=False))
        for past in self.study.trials:
            trial = Trial(
                values_of(self.found.dists, past.params), int(past.user_attrs.get("digits", DIGITS))
            )
            if "twin" in past.user_attrs:
                twin = self.variants.get(past.user_attrs["twin"])
                if twin is not None:  # told with it, when it ends (or was, if it has)
                    twin.twins.append(past.number)
                continue
            runs = self._plan(trial)
            if not runs:
                continue
            self._register(runs)
            v = self.variants[runs[0].variant] = Variant([r.name for r in runs], past.number)
            v.done = past.state.is_finished()
            v.value = past.value if v.done and past.values else None
            self.names[trial_name(self.found.base, trial)] = (trial, runs[0].variant)

    def start(self, resume: Resume) -> None:
        """Once the grid's lock is held: the study to ask (a fresh sweep, a fresh study)."""
        if self.study is not None:
            return
        path = study_path(self.plan.data_dir, self.plan.name)
        private_dir(state_dir(self.plan.data_dir))
        if resume == Resume.ALL and path.exists():
            path.unlink()
        os.close(open_private(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND))
        self.study = open_study(path, self.plan.name, self.search, create=True)
        self.asked = len(self.study.get_trials(deepcopy=False))

    def _plan(self, trial: Trial) -> list[Run]:
        """The runs of ``trial`` (one per seed), after every run planned so far."""
        start = max((r.idx for r in self.engine_runs.values()), default=-1) + 1
        start = max([start, *(r.idx + 1 for r in self.waiting)])
        try:
            found = plan_grid(trial_grid(self.found.base, [trial]), start_idx=start,
                              **self.found.plan_args)  # fmt: skip
        except PlanError as exc:
            self.book.say(f"search of {self.plan.name}: a trial cannot run: {exc}")
            return []
        runs = list(found.runs)
        self.batch = max(1, self.cores // max(1, sum(r.num_cpu for r in runs)))
        return runs

    def _register(self, runs: list[Run]) -> None:
        for run in runs:
            self.engine_runs[run.name] = run
        self.plan.runs = [*self.plan.runs, *runs]

    def _ask(self) -> None:
        while (self.study is not None and self.asked < self.search.trials
               and sum(not v.done for v in self.variants.values()) < self.batch):  # fmt: skip
            asked = self.study.ask()
            self.asked += 1
            trial = Trial(suggest(asked, self.found.dists))
            if distinct(self.found.base, trial, {k: t for k, (t, _) in self.names.items()}) is None:
                variant = self.names[trial_name(self.found.base, trial)][1]
                asked.set_user_attr("twin", variant)
                twin = self.variants[variant]
                twin.twins.append(asked.number)
                if twin.done:
                    self._tell(asked.number, twin)
                continue
            asked.set_user_attr("digits", trial.digits)
            runs = self._plan(trial)
            if not runs:
                self.study.tell(asked.number, state=_state("FAIL"))
                continue
            asked.set_user_attr("variant", runs[0].variant)
            self.names[trial_name(self.found.base, trial)] = (trial, runs[0].variant)
            self.variants[runs[0].variant] = Variant([r.name for r in runs], asked.number)
            self.waiting += runs

    def _add_waiting(self) -> None:
        """Put the runs of new trials into the ledger and the records (a busy ledger: the
        next turn tries again)."""
        if not self.waiting:
            return
        records = [record_of(r, self.plan.name) for r in self.waiting]
        try:
            self.book.files[self.plan.name].ledger.add_runs(records)
        except sqlite3.DatabaseError:
            return
        self.book.records.update((r.name, r) for r in records)
        self._register(self.waiting)
        self.waiting = []

    def _tell(self, number: int, v: Variant) -> None:
        records = [self.book.records[n] for n in v.runs]
        if any(r.state == "pruned" for r in records):
            self.study.tell(number, state=_state("PRUNED"))
        elif v.value is None:
            self.study.tell(number, state=_state("FAIL"))
        else:
            self.study.tell(number, v.value)

    # -- every search ------------------------------------------------------------------------
    def turn(self) -> None:
        """Tell what ended, ask what the batch has room for, and keep the best in the meta."""
        self._add_waiting()
        changed = False
        for v in self.variants.values():
            if v.done or any(n not in self.book.records for n in v.runs):
                continue
            records = [self.book.records[n] for n in v.runs]
            if any(r.state in (RunState.PENDING, RunState.RUNNING) for r in records):
                continue
            v.done, changed = True, True
            v.value = objective_of(records, self.search.metric, self.search.objective)
            if v.number is not None and self.study is not None:
                for number in (v.number, *v.twins):
                    self._tell(number, v)
        self._ask()
        self._add_waiting()
        if changed or not self.book.files[self.plan.name].meta.get("search"):
            self.book.files[self.plan.name].set_meta({"search": self.summary()})

    def more(self) -> bool:
        """Whether trials are still to be asked or put into the ledger."""
        return bool(self.waiting) or (self.study is not None and self.asked < self.search.trials)

    def summary(self) -> dict[str, Any]:
        """The search as the views show it: method, trials done, the best variant so far."""
        s = self.search
        scored = [(name, v.value) for name, v in self.variants.items() if v.value is not None]
        sign = 1.0 if s.mode == "max" else -1.0
        best = max(scored, key=lambda nv: sign * nv[1], default=None)
        done = sum(v.done * (1 + len(v.twins)) for v in self.variants.values())
        total = s.trials if self.study is not None else len(self.variants)
        return {"method": s.method, "trials": total, "metric": s.metric, "mode": s.mode,
                "objective": s.objective, "done": done,
                "best": best[0] if best else None, "value": best[1] if best else None}  # fmt: skip


def _state(name: str) -> Any:
    from optuna.trial import TrialState

    return TrialState[name]


class Searches:
    """The searches of an engine's grids (none: every call does nothing)."""

    def __init__(self, plans: list[GridPlan], runs: dict[str, Run], book: Book,
                 cores: int) -> None:  # fmt: skip
        self.items = [GridSearch(p, p.search, book, runs, cores) for p in plans if p.search]

    def load(self, resume: Resume) -> None:
        """Before the ledgers are taken: the resumed Optuna studies' trials, planned."""
        for item in self.items:
            if item.search.method == "optuna":
                item.load(resume)

    def start(self, resume: Resume) -> None:
        """Once the grids' locks are held: every Optuna study, made where none is loaded."""
        for item in self.items:
            if item.search.method == "optuna":
                item.start(resume)

    def turn(self) -> None:
        """Once per turn in which runs may start."""
        for item in self.items:
            item.turn()

    def more(self) -> bool:
        """Whether some search has trials still to ask (the sweep is not over)."""
        return any(item.more() for item in self.items)
