"""Which runs a key or pane acts on: the selected run, or the runs of a variant or grid."""

from __future__ import annotations

from slc_tui.states import RunState
from slc_tui.sweep.state import RunKey, SweepState
from slc_tui.ui.nodes import NodeData, RunNode

STOPPABLE = frozenset({RunState.PENDING, RunState.RUNNING})
"""States ``k`` acts on (a pending run is cancelled before it starts)."""
RERUNNABLE = frozenset({RunState.FAILED, RunState.CANCELLED, RunState.LOST, RunState.PRUNED})
"""States ``r`` reruns when a variant or grid is selected."""


MAX_CURVES = 32
"""Most runs whose progress files the curves pane reads for one node."""
MAX_VARIANT_CURVES = 16
"""Most variants a grid node plots (one mean curve each)."""


def variant_dirs(model: SweepState, li: int) -> list[list[str]]:
    """The output directories of each variant of grid ``li`` (for its seed-mean curves).

    At most :data:`MAX_VARIANT_CURVES` variants and :data:`MAX_CURVES` runs in all.
    """
    vkeys = [v for v in model.variants if v[0] == li][:MAX_VARIANT_CURVES]
    per_variant = max(MAX_CURVES // max(len(vkeys), 1), 1)
    return [[model.runs[k].output_dir for k in model.variants[v][:per_variant]] for v in vkeys]


def runs_under(model: SweepState, data: NodeData | None) -> list[RunKey]:
    """The runs of a tree node (none for no node)."""
    return [] if data is None else data.keys(model)


def stop_targets(model: SweepState, data: NodeData | None) -> list[RunKey]:
    """Runs ``k`` stops: the selected run, or the running and pending runs below a node."""
    return [k for k in runs_under(model, data) if model.runs[k].state in STOPPABLE]


def rerun_targets(model: SweepState, data: NodeData | None) -> list[RunKey]:
    """Runs ``r`` reruns: a finished selected run, or the failed runs below a node."""
    keys = runs_under(model, data)
    if isinstance(data, RunNode):
        return [k for k in keys if model.runs[k].state not in STOPPABLE]
    return [k for k in keys if model.runs[k].state in RERUNNABLE]


def describe_stop(model: SweepState, keys: list[RunKey]) -> str:
    """What ``k`` stops: ``cartpole_s0`` (running), or ``1 running and 1 pending run``.

    Running runs are stopped, pending ones cancelled before they start; the words say both.
    """
    running = sum(model.runs[k].state == RunState.RUNNING for k in keys)
    pending = len(keys) - running
    if len(keys) == 1:
        return f"{keys[0][1]} ({'running' if running else 'pending'})"
    if running and pending:
        return f"{running} running and {pending} pending run{'s' if pending != 1 else ''}"
    word = "running" if running else "pending"
    return f"{len(keys)} {word} runs"


def describe(keys: list[RunKey]) -> str:
    """``cartpole_s0`` for one run, ``3 runs`` for more."""
    return keys[0][1] if len(keys) == 1 else f"{len(keys)} runs"
