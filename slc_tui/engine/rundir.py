"""A run's output directory: where its log is, and how an earlier attempt's files are kept."""

from __future__ import annotations

import os
from pathlib import Path

from slc_tui.engine.progress import PROGRESS_FILES

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
