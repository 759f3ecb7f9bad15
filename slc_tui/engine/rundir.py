"""A run's files: its output directory and log, an earlier attempt's files, its payload.

The log of a fresh run starts beside its folder, not in it: the run's logger makes the folder
(SpinningUp's and stable-learning-control's warn when it already exists, so slc-tui must not
make it first). Rank 0 of the run moves the log into the folder as soon as the folder exists
(the same open file: the run writes on), and at the latest when the thunk ends; the engine
moves it there at the run's end if no rank could. :func:`log_path` finds it in either place.
A run whose folder exists already (a rerun, a retry) logs into it from the start.

Links inside the data directory are not followed out of it: a run folder that leads out of
the data directory through a symbolic link, or an ``output.log`` that is a link, fails the
run's start with the reason; the log is opened with ``O_NOFOLLOW``.
"""

from __future__ import annotations

import hashlib
import os
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO

from slc_tui.engine.paths import CLOEXEC, NOFOLLOW, private_dir, state_dir, within
from slc_tui.engine.progress import PROGRESS_FILES
from slc_tui.payload import Payload, write_payload
from slc_tui.plan import Run
from slc_tui.procid import LOG_ENV, LOG_TO_ENV

OUTPUT_LOG = "output.log"
"""The file, in a run's output directory, that holds its stdout and stderr in order."""
NAME_MAX = 255
"""Bytes of a file name at most (Linux's): a longer beside name is a hash of the folder's."""


class RunDirError(OSError):
    """A run's folder or log that slc-tui will not write through (a link out of data_dir)."""


def final_log(output_dir: str | os.PathLike[str]) -> Path:
    """The run's ``output.log`` in its folder."""
    return Path(output_dir) / OUTPUT_LOG


def beside_log(output_dir: str | os.PathLike[str]) -> Path:
    """Where a fresh run's log is until its folder exists: ``.NAME.output.log`` beside it."""
    folder = Path(os.path.abspath(output_dir))
    name = f".{folder.name}.{OUTPUT_LOG}"
    if len(os.fsencode(name)) > NAME_MAX:
        digest = hashlib.sha1(os.fsencode(folder.name)).hexdigest()[:16]
        name = f".slc-tui-{digest}.{OUTPUT_LOG}"
    return folder.parent / name


def log_paths(output_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """The two places of a run's log: in its folder, and beside it (see the module)."""
    return final_log(output_dir), beside_log(output_dir)


def log_path(output_dir: str | os.PathLike[str]) -> Path:
    """Where the run's log is now: in its folder, else beside it, else (none yet, or it
    moved into the folder between the two looks) the folder's ``output.log``."""
    final, beside = log_paths(output_dir)
    if final.exists() or not beside.exists():
        return final
    return beside


def starting_log(output_dir: str | os.PathLike[str]) -> Path:
    """Where a starting attempt writes its log: into its folder when the folder exists
    (a rerun: the run's logger will warn, as it would without slc-tui), else beside it."""
    if os.path.lexists(output_dir):
        return final_log(output_dir)
    return beside_log(output_dir)


def log_env(output_dir: str | os.PathLike[str]) -> dict[str, str]:
    """The variables that tell rank 0 to move the log into the folder (none when the
    attempt logs into its folder from the start)."""
    final, start = final_log(output_dir), starting_log(output_dir)
    if start == final:
        return {}
    return {LOG_ENV: os.path.abspath(start), LOG_TO_ENV: os.path.abspath(final)}


def open_log(output_dir: str | os.PathLike[str]) -> BinaryIO:
    """Open the log a starting attempt writes (:func:`starting_log`) for appending
    (unbuffered), never through a link.

    Raises:
        RunDirError: the log is a symbolic link.
    """
    path = starting_log(output_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | NOFOLLOW | CLOEXEC, 0o666)
    except OSError as exc:
        if os.path.islink(path):
            raise _linked(path) from None
        raise exc
    return os.fdopen(fd, "ab", buffering=0)


def settle_log(output_dir: str | os.PathLike[str]) -> None:
    """Move a log still beside the run's folder into it, making the folder: at a run's end
    (no rank moved it: the folder never came, or the ranks were killed), and before a new
    attempt (its engine died). Never over an ``output.log`` that is there already."""
    final, beside = log_paths(output_dir)
    if not os.path.lexists(beside) or os.path.islink(beside):
        return
    with suppress(OSError):
        os.makedirs(output_dir, exist_ok=True)
        if not os.path.lexists(final):
            os.rename(beside, final)


def keep_earlier_attempt(output_dir: str | os.PathLike[str], attempt: int) -> None:
    """Before attempt ``attempt`` starts, rename what an earlier one wrote.

    ``output.log`` becomes ``output.N.log``, and the progress file the run wrote keeps its
    kind: ``progress.txt`` becomes ``progress.N.txt``, ``progress.csv`` ``progress.N.csv``
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
    """Keep an earlier attempt's files, make the log, write the payload; the run's folder
    is left to the run (a fresh run's log starts beside it: see the module).

    Raises:
        RunDirError: the folder leads out of ``data_dir``, or ``output.log`` is a link.
    """
    if data_dir is not None:
        check_inside(data_dir, run.output_dir)
    settle_log(run.output_dir)  # an earlier attempt's, left beside when its engine died
    if os.path.lexists(run.output_dir):  # a rerun: the folder is there (never made here)
        os.makedirs(run.output_dir, exist_ok=True)
        log = final_log(run.output_dir)
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
