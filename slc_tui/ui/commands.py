"""Which runs a key acts on: the selected run, or the matching runs of a variant or grid."""

from __future__ import annotations

from typing import Any

from slc_tui.engine.ledger import CANCELLED, FAILED, LOST, PENDING, RUNNING
from slc_tui.ui.model import RunKey, SweepModel

STOPPABLE = frozenset({PENDING, RUNNING})
"""States ``k`` acts on (a pending run is cancelled before it starts)."""
RERUNNABLE = frozenset({FAILED, CANCELLED, LOST})
"""States ``r`` reruns when a variant or grid is selected."""


def runs_under(model: SweepModel, data: Any) -> list[RunKey]:
    """The runs of a tree node: ``("run", key)``, ``("variant", vkey)`` or ``("grid", li)``."""
    if data is None:
        return []
    kind, value = data
    if kind == "run":
        return [value] if value in model.runs else []
    if kind == "variant":
        return list(model.variants.get(value, []))
    return [k for k in model.runs if k[0] == value]


def stop_targets(model: SweepModel, data: Any) -> list[RunKey]:
    """Runs ``k`` stops: the selected run, or the running and pending runs below a node."""
    return [k for k in runs_under(model, data) if model.runs[k].state in STOPPABLE]


def rerun_targets(model: SweepModel, data: Any) -> list[RunKey]:
    """Runs ``r`` reruns: a finished selected run, or the failed runs below a node."""
    keys = runs_under(model, data)
    if data and data[0] == "run":
        return [k for k in keys if model.runs[k].state not in STOPPABLE]
    return [k for k in keys if model.runs[k].state in RERUNNABLE]


def describe(keys: list[RunKey]) -> str:
    """``cartpole_s0`` for one run, ``3 runs`` for more."""
    return keys[0][1] if len(keys) == 1 else f"{len(keys)} runs"
