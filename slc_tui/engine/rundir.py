"""A run's files: its output directory and log, an earlier attempt's files, its payload."""

from __future__ import annotations

import os
from pathlib import Path

from slc_tui.engine.ledger import state_dir
from slc_tui.engine.progress import PROGRESS_FILES
from slc_tui.payload import Payload, write_payload
from slc_tui.plan import Run

OUTPUT_LOG = "output.log"
"""The file, in a run's output directory, that holds its stdout and stderr in order."""


def log_path(output_dir: str | os.PathLike[str]) -> Path:
    """The run's ``output.log``."""
    return Path(output_dir) / OUTPUT_LOG


def keep_earlier_attempt(output_dir: str | os.PathLike[str], attempt: int) -> None:
    """Before attempt ``attempt`` starts, rename what an earlier one wrote.

    ``output.log`` becomes ``output.N.log`` and ``progress.txt`` becomes ``progress.N.txt``
    (N = attempt - 1; 0 for files from before the ledger knew the run), so that the new
    attempt's log and curves start empty and nothing of the old one is lost.
    """
    folder = Path(output_dir)
    for name in (OUTPUT_LOG, *PROGRESS_FILES):
        path = folder / name
        if path.exists():
            stem, dot, ext = name.partition(".")
            path.replace(folder / f"{stem}.{attempt - 1}{dot}{ext}")


def payload_path(data_dir: str, run: Run) -> Path:
    """Where the payload of ``run`` (its thunk and kwargs) is written for its process."""
    return state_dir(data_dir) / run.grid / "payloads" / f"{run.name}.pkl"


def prepare_attempt(run: Run, attempt: int, payload: Path) -> None:
    """Make the run's folder, keep an earlier attempt's files, write the payload."""
    os.makedirs(run.output_dir, exist_ok=True)
    keep_earlier_attempt(run.output_dir, attempt)
    write_payload(payload, Payload(run.thunk, run.kwargs))
