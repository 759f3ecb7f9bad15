"""What the dashboard tells the user to type later: attach and stop commands, the exit line.

``[grid] data_dir`` is relative to the directory the sweep started in, so ``slc-tui attach``
only finds the sweep from there: when that directory is not the grid file's own, the commands
start with ``cd <that directory> &&``. A sweep started from Python has no grid file: the
commands name its ledger (``data/.slc-tui/<grid>.db``) by its absolute path instead.
"""

from __future__ import annotations

import os
import shlex

from slc_tui.states import RunState
from slc_tui.sweep.fmt import counts_line
from slc_tui.sweep.state import SweepState

SUMMARY_ORDER = (
    RunState.SUCCEEDED,
    RunState.FAILED,
    RunState.CANCELLED,
    RunState.LOST,
    RunState.PRUNED,
    RunState.RUNNING,
    RunState.PENDING,
)
"""The order of the counts in the exit line."""


def grid_files(model: SweepState) -> list[str]:
    """The grid files of the sweep's ledgers, once each (grids built in Python have none)."""
    files = [str(m.get("grid_file") or "") for m in model.metas]
    return list(dict.fromkeys(f for f in files if f))


def cd_prefix(grids: list[str], cwd: str | None = None) -> str:
    """``cd <cwd> && `` when ``cwd`` is not the directory of every grid file, else ``""``."""
    cwd = os.path.abspath(cwd or os.getcwd())
    dirs = {os.path.dirname(os.path.abspath(os.path.join(cwd, g))) for g in grids}
    return "" if dirs <= {cwd} else f"cd {shlex.quote(cwd)} && "


def sweep_args(model: SweepState, cwd: str | None = None) -> list[str]:
    """What names each ledger's grid on the command line, once each.

    Its grid file as given; a grid built in Python has none, so its ledger file, absolute.
    """
    cwd = os.path.abspath(cwd or os.getcwd())
    args = [
        str(m.get("grid_file") or "") or os.path.abspath(os.path.join(cwd, ledger.path))
        for m, ledger in zip(model.metas, model.ledgers)
    ]
    return list(dict.fromkeys(args))


def grid_command(model: SweepState, verb: str, cwd: str | None = None) -> str:
    """``[cd DIR && ]slc-tui VERB GRID.toml ...`` (or ``LEDGER.db``), runnable from anywhere."""
    args = sweep_args(model, cwd)
    if not args:
        return f"slc-tui {verb} GRID.toml"
    grids = grid_files(model)
    prefix = cd_prefix(grids, cwd) if grids else ""
    return f"{prefix}slc-tui {verb} {' '.join(shlex.quote(a) for a in args)}"


def counts_text(model: SweepState, li: int) -> str:
    """``cartpole: 2 succeeded, 10 failed`` for ledger ``li``."""
    states = [r.state for (i, _), r in model.runs.items() if i == li]
    return f"{model.grid_name(li)}: {counts_line(states, SUMMARY_ORDER) or 'no runs'}"


def exit_summary(model: SweepState, going: bool, cwd: str | None = None) -> str:
    """The one line printed after the dashboard closed.

    ``cartpole-faulty: 2 succeeded, 10 failed``; when runs still go in the background, how
    to see them again and how to stop them.
    """
    line = "; ".join(counts_text(model, li) for li in range(len(model.ledgers)))
    if not going:
        return line
    attach, stop = grid_command(model, "attach", cwd), grid_command(model, "stop", cwd)
    return f"{line}; the runs go on: `{attach}` shows them, `{stop}` stops them"
