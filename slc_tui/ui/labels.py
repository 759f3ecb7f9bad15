"""Glyphs, colours and one-line labels for runs, variants and grids."""

from __future__ import annotations

import re

from rich.text import Text

from slc_tui.engine.ledger import RunRecord
from slc_tui.states import RunState
from slc_tui.sweep.fmt import GLYPHS, fmt_num, run_metric, short_metric
from slc_tui.sweep.state import VariantSummary

STYLES = {
    RunState.PENDING: "dim",
    RunState.RUNNING: "bold yellow",
    RunState.SUCCEEDED: "green",
    RunState.FAILED: "bold red",
    RunState.CANCELLED: "magenta",
    RunState.LOST: "magenta",
    RunState.PRUNED: "blue",
}
"""The colour of each state."""
WORDS = {
    RunState.PENDING: "pending",
    RunState.RUNNING: "running",
    RunState.SUCCEEDED: "done",
    RunState.FAILED: "failed",
    RunState.CANCELLED: "cancelled",
    RunState.LOST: "lost",
    RunState.PRUNED: "pruned",
}
"""How the header and summaries name each state."""


_RANK_PREFIX = re.compile(r"^MPI rank \d+ raised ")
_QUALIFIED = re.compile(r"^(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_]\w*(?::|$))")


def short_reason(reason: str) -> str:
    """A failure reason shortened for the tree: no rank prefix, no module path.

    ``MPI rank 1 raised pkg.mod.InjectedFailure: rank 1 crashed`` becomes
    ``InjectedFailure: rank 1 crashed``; the details panel keeps the whole reason.
    """
    return _QUALIFIED.sub("", _RANK_PREFIX.sub("", reason))


def variant_display(variant: str, grid_name: str) -> str:
    """A variant's name under its grid node, without the grid name it repeats.

    ``cartpole-faulty_ef0-2_crashraise`` under ``cartpole-faulty`` shows as
    ``ef0-2_crashraise``; a variant named like its grid keeps its whole name.
    """
    prefix = f"{grid_name}_"
    if variant.startswith(prefix) and len(variant) > len(prefix):
        return variant[len(prefix) :]
    return variant


def glyph(state: RunState) -> Text:
    """The state's glyph in its colour."""
    text = Text()
    text.append(GLYPHS.get(state, "?"), style=STYLES.get(state, ""))
    return text


def seed_label(run: RunRecord) -> str:
    """``s0`` for seed 0; the run name when it has no seed."""
    return f"s{run.seed}" if run.seed is not None else run.name


def run_label(run: RunRecord, seed_width: int = 4) -> Text:
    """A seed run's tree label: glyph, seed, epoch and main metric (or failure reason)."""
    text = glyph(run.state)
    text.append(f" {seed_label(run):<{seed_width}} ")
    if run.epoch is not None:
        text.append(f"ep {run.epoch:>3}", style="dim")
    if run.state == RunState.FAILED and run.reason:
        text.append(f"  {short_reason(run.reason)}", style="red")
    elif run.state == RunState.PRUNED and run.reason and run.epoch is None:
        text.append(f"  {run.reason}", style="blue")  # never started: the rule's words
    elif metric := run_metric(run):
        text.append(f"  {short_metric(metric[0])} {fmt_num(metric[1])}")
    elif run.state == RunState.RUNNING and run.queue_state:
        text.append(f"  {run.queue_state}", style="dim")
    return text


def summary_text(summary: VariantSummary) -> Text:
    """``4/9 ✘1 ●2``: runs done out of all, then failed, running, lost and pruned counts."""
    text = Text()
    text.append(f"{summary.done}/{summary.total}", style="green" if summary.done else "dim")
    for state in (RunState.FAILED, RunState.RUNNING, RunState.CANCELLED, RunState.LOST,
                  RunState.PRUNED):  # fmt: skip
        if summary.states[state]:
            text.append(f" {GLYPHS[state]}{summary.states[state]}", style=STYLES[state])
    return text


def group_label(name: str, summary: VariantSummary, metric: str = "") -> Text:
    """A variant or grid label: its name, then its summary and mean metric."""
    text = Text()
    text.append(name, style="bold")
    text.append("  ")
    text.append_text(summary_text(summary))
    if metric:
        text.append(f"  {metric}", style="dim")
    return text
