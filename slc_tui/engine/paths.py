"""Where slc-tui keeps its own files, and how they are made: private, and never through a link.

A grid's state lives in ``DATA_DIR/.slc-tui/``: the ledger ``NAME.db`` (with SQLite's
``-wal`` and ``-shm``), the journal ``NAME.journal``, the engine's lock ``NAME.lock``, payloads
and ``engine.log``. State folders are 0700 and state files 0600 whatever the umask, and none
of them is reached through a symbolic link (a linked ``.slc-tui`` is refused).
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from slc_tui.errors import SweepError

STATE_DIR = ".slc-tui"
"""Folder inside a grid's data directory that holds ledgers and payloads."""
DIR_MODE = 0o700
FILE_MODE = 0o600
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def state_dir(data_dir: str | os.PathLike[str]) -> Path:
    """The folder of slc-tui's own files inside a data directory."""
    return Path(data_dir) / STATE_DIR


def ledger_path(data_dir: str | os.PathLike[str], grid_name: str) -> Path:
    """Where the ledger of grid ``grid_name`` lives."""
    return state_dir(data_dir) / f"{grid_name}.db"


def lock_path(ledger: str | os.PathLike[str]) -> Path:
    """The engine's lock file beside a ledger (``NAME.lock``)."""
    return Path(ledger).with_suffix(".lock")


def journal_path(ledger: str | os.PathLike[str]) -> Path:
    """The append-only journal of run ends beside a ledger (``NAME.journal``)."""
    return Path(ledger).with_suffix(".journal")


class LinkRefused(SweepError):
    """A state folder or file of slc-tui is a symbolic link."""


def refuse_link(path: str | os.PathLike[str]) -> None:
    """Raise LinkRefused when ``path`` is a symbolic link (dangling or not)."""
    if os.path.islink(path):
        raise LinkRefused(
            f"{path} is a symbolic link (to {os.readlink(path)}); slc-tui keeps its state "
            "only in real files and folders of the data directory",
            cli="remove the link (or make it a real folder) and start again",
            python="remove the link (or make it a real folder) and call again",
        )


def private_dir(path: str | os.PathLike[str], *parts: str) -> Path:
    """Make ``path`` a folder only its owner can use: 0700 whatever the umask, not a symbolic
    link (an existing folder of ours is set to 0700); then each of ``parts`` below it, the
    same way. Missing parents of ``path`` are made as usual. Returns the last folder."""
    path = Path(path)
    refuse_link(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _private(path)
    for part in parts:
        path = path / part
        refuse_link(path)
        _private(path)
    return path


def _private(path: Path) -> None:
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, DIR_MODE)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | NOFOLLOW | CLOEXEC)
    try:
        st = os.fstat(fd)
        if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) != DIR_MODE:
            os.fchmod(fd, DIR_MODE)
    finally:
        os.close(fd)


def open_private(path: str | os.PathLike[str], flags: int) -> int:
    """Open (creating it 0600 if ``flags`` say so) a state file, never through a link; the
    mode is set to 0600 whatever the umask. Returns the descriptor (not inheritable)."""
    try:
        fd = os.open(path, flags | NOFOLLOW | CLOEXEC, FILE_MODE)
    except OSError as exc:
        if os.path.islink(path):
            refuse_link(path)
        raise exc
    try:
        st = os.fstat(fd)
        if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    except OSError:
        os.close(fd)
        raise
    return fd


def within(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is ``root`` or lies below it (both taken as they are written)."""
    root_s, path_s = os.fspath(root).rstrip(os.sep) or os.sep, os.fspath(path)
    return path_s == root_s or path_s.startswith(root_s.rstrip(os.sep) + os.sep)
