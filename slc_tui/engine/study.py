"""An Optuna search's study: a journal file beside the grid's ledger, and a trial's values.

Optuna is imported only inside these functions, by an engine that runs an Optuna search.
TPE is seeded with the search's ``seed``; its random start is shortened in a small budget
(:func:`startup`). A choice among values Optuna cannot store (lists, tables) is asked by its
index and mapped back (:func:`values_of`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slc_tui.engine.paths import state_dir
from slc_tui.errors import SweepError

if TYPE_CHECKING:
    from slc_tui.search import Search
    from slc_tui.search_space import Dist

STUDY_SUFFIX = ".optuna.log"
SCALARS = (type(None), bool, int, float, str)
"""What Optuna takes as a categorical choice as it is (other choices go by their index)."""


def study_path(data_dir: str | os.PathLike[str], grid: str) -> Path:
    """Where the Optuna study of grid ``grid`` lives (a journal file beside its ledger)."""
    return state_dir(data_dir) / f"{grid}{STUDY_SUFFIX}"


def startup(trials: int) -> int:
    """Random trials before TPE models the objective: Optuna's 10, fewer in a small budget
    (a quarter of it, at least 2), so that most of a small search is guided."""
    return max(2, min(10, trials // 4))


def open_study(path: Path, name: str, search: Search, create: bool) -> Any:
    """The study ``name`` in the journal ``path`` (None: it holds none and not ``create``;
    loading writes nothing).

    Raises:
        SweepError: the journal cannot be read as an Optuna study.
    """
    import optuna
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=search.seed, n_startup_trials=startup(search.trials))
    try:
        storage = optuna.storages.JournalStorage(JournalFileBackend(str(path)))
        if not create:
            if name not in {s.study_name for s in storage.get_all_studies()}:
                return None
            return optuna.load_study(study_name=name, storage=storage, sampler=sampler)
        direction = optuna.study.StudyDirection["MAXIMIZE" if search.mode == "max" else "MINIMIZE"]
        return optuna.create_study(study_name=name, storage=storage, load_if_exists=True,
                                   sampler=sampler, direction=direction)  # fmt: skip
    except (OSError, ValueError, KeyError, optuna.exceptions.OptunaError) as exc:
        raise SweepError(f"cannot use the Optuna study {path}: {exc}",
                         cli="move it aside and start without --resume (a fresh study)",
                         python="move it aside and call without resume=True") from exc  # fmt: skip


def values_of(dists: Mapping[str, Dist], params: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's values from Optuna's params (choices asked by index mapped back)."""
    out = dict(params)
    for key, dist in dists.items():
        if dist.kind == "choice" and not all(isinstance(c, SCALARS) for c in dist.choices):
            out[key] = dist.choices[params[key]]
    return out


def suggest(asked: Any, dists: Mapping[str, Dist]) -> dict[str, Any]:
    """The values Optuna's trial ``asked`` suggests for each distribution."""
    out: dict[str, Any] = {}
    for key, d in dists.items():
        if d.kind == "int":
            out[key] = asked.suggest_int(key, int(d.low), int(d.high))
        elif d.kind == "choice":
            scalar = all(isinstance(c, SCALARS) for c in d.choices)
            options = list(d.choices) if scalar else list(range(len(d.choices)))
            out[key] = asked.suggest_categorical(key, options)
        else:
            out[key] = asked.suggest_float(key, d.low, d.high, log=d.kind == "loguniform")
    return values_of(dists, out)
