"""A run's files: its output directory and log, an earlier attempt's files, its payload.

Links inside the data directory are not followed out of it: a run folder that leads out of
the data directory through a symbolic link, or an ``output.log`` that is a link, fails the
run's start with the reason; the log is opened with ``O_NOFOLLOW``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from slc_tui.engine.paths import CLOEXEC, NOFOLLOW, private_dir, state_dir, within
from slc_tui.engine.progress import PROGRESS_FILES
from slc_tui.payload import Payload, write_payload
from slc_tui.plan import Run

OUTPUT_LOG = "output.log"
"""The file, in a run's output directory, that holds its stdout and stderr in order."""


class RunDirError(OSError):
    """A run's folder or log that slc-tui will not write through (a link out of data_dir)."""


def log_path(output_dir: str | os.PathLike[str]) -> Path:
    """The run's ``output.log``."""
    return Path(output_dir) / OUTPUT_LOG


def open_log(output_dir: str | os.PathLike[str]) -> BinaryIO:
    """Open the run's ``output.log`` for appending (unbuffered), never through a link.

    Raises:
        RunDirError: ``output.log`` is a symbolic link.
    """
    path = log_path(output_dir)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | NOFOLLOW | CLOEXEC, 0o666)
    except OSError as exc:
        if os.path.islink(path):
            raise _linked(path) from None
        raise exc
    return os.fdopen(fd, "ab", buffering=0)


def keep_earlier_attempt(output_dir: str | os.PathLike[str], attempt: int) -> None:
    """Before attempt ``attempt`` starts, rename what an earlier one wrote.

    ``output.log`` becomes ``output.N.log`` and ``progress.txt`` becomes ``progress.N.txt``
    (N = attempt - 1; 0 for files from before the ledger knew the run), so that the new
    attempt's log and curves start empty and nothing of the old one is lost.
    """
    folder = Path(output_dir)
    for name in (OUTPUT_LOG, *PROGRESS_FILES):
        path = folder / name
        if path.exists() and not path.is_symlink():
            stem, dot, ext = name.partition(".")
            path.replace(folder / f"{stem}.{attempt - 1}{dot}{ext}")


def payload_path(data_dir: str, run: Run) -> Path:
    """Where the payload of ``run`` (its thunk and kwargs) is written for its process."""
    return state_dir(data_dir) / run.grid / "payloads" / f"{run.name}.pkl"


def check_inside(data_dir: str | os.PathLike[str], output_dir: str | os.PathLike[str]) -> None:
    """Refuse a run folder planned inside ``data_dir`` that a symbolic link leads out of it.

    Raises:
        RunDirError: it does.
    """
    root, target = os.path.abspath(data_dir), os.path.abspath(output_dir)
    if not within(root, target):
        return  # planned elsewhere on purpose: not ours to judge
    real = os.path.realpath(target)
    if not within(os.path.realpath(root), real):
        raise RunDirError(
            f"{output_dir} leads out of the data directory {data_dir} through a symbolic "
            f"link (to {real}); slc-tui does not follow links out of the data directory"
        )


def prepare_attempt(run: Run, attempt: int, payload: Path, data_dir: str | None = None) -> None:
    """Make the run's folder, keep an earlier attempt's files, write the payload.

    Raises:
        RunDirError: the folder leads out of ``data_dir``, or ``output.log`` is a link.
    """
    if data_dir is not None:
        check_inside(data_dir, run.output_dir)
    os.makedirs(run.output_dir, exist_ok=True)
    log = log_path(run.output_dir)
    if log.is_symlink():
        raise _linked(log)
    keep_earlier_attempt(run.output_dir, attempt)
    open_log(run.output_dir).close()  # made here, a real file, before the backend opens it
    grid_dir = payload.parent.parent  # DATA_DIR/.slc-tui/GRID/payloads/NAME.pkl
    private_dir(grid_dir.parent, grid_dir.name, payload.parent.name)
    write_payload(payload, Payload(run.thunk, run.kwargs))


def _linked(path: Path) -> RunDirError:
    return RunDirError(
        f"{path} is a symbolic link (to {os.readlink(path)}); slc-tui writes a run's log "
        "only into a regular file: remove the link"
    )
