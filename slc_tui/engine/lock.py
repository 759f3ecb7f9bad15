"""One engine per grid, decided by the operating system: an exclusive ``flock`` on the lock
file beside the ledger (``NAME.lock``), taken before the ledger is created or touched and held
for the engine's whole life. The kernel lets go of it when the engine's process ends, however
it ends, so a lock is never stale.

The file also names its holder (pid, start time, grid file) for the refusal of a second start
and for ``stop``. A view never holds the lock; it may probe it (a shared, non-blocking
``flock`` let go of at once) to tell whether an engine lives. A start that meets such a probe
tries again for a moment; one that meets a live engine's lock is refused at once.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

from slc_tui.engine.paths import CLOEXEC, NOFOLLOW, open_private
from slc_tui.errors import SweepError
from slc_tui.procid import engine_token, token_alive

ACQUIRE_WAIT = 1.0
"""Seconds a start tries again when the lock is held by something that is no live engine
(a view's probe, an engine that is just ending)."""


class EngineLock:
    """The lock of one grid, held by this process (see the module docstring)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        """The lock file."""
        self._fd: int | None = fd
        st = os.fstat(fd)
        self._id = (st.st_dev, st.st_ino)

    @classmethod
    def acquire(cls, path: str | os.PathLike[str], **info: Any) -> EngineLock:
        """Take the lock at ``path`` and write ``info`` (with this process's pid and token)
        into it.

        Raises:
            SweepError: a live engine holds it (its pid and grid file named).
        """
        path = Path(path)
        deadline = time.monotonic() + ACQUIRE_WAIT
        while True:
            fd = open_private(path, os.O_RDWR | os.O_CREAT)
            try:
                taken = _try_lock(fd, fcntl.LOCK_EX)
                if taken and _same_file(path, fd):
                    lock = cls(path, fd)
                    lock._write({"pid": os.getpid(), "token": engine_token(), **info})
                    return lock
                holder = read_holder(path)
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
            if taken:  # the file was replaced while we took it: take the new one
                continue
            if (holder and token_alive(str(holder.get("token") or ""))) or (
                time.monotonic() > deadline
            ):
                raise refusal(path, holder or {})
            time.sleep(0.01)

    def _write(self, info: dict[str, Any]) -> None:
        assert self._fd is not None
        data = json.dumps(info).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def intact(self) -> bool:
        """Whether the lock file at :attr:`path` is still the one this lock holds."""
        return self._fd is not None and _same_file(self.path, self._fd)

    def restore(self) -> bool:
        """After the lock file was deleted (its folder removed...), hold a new one at the same
        path, so that a second start is still refused; False when another process took it."""
        if self._fd is None or self.intact():
            return self._fd is not None
        info = read_fd(self._fd)
        try:
            fd = open_private(self.path, os.O_RDWR | os.O_CREAT)
        except OSError:
            return False
        if not _try_lock(fd, fcntl.LOCK_EX):
            os.close(fd)
            return False
        os.close(self._fd)
        self._fd = fd
        st = os.fstat(fd)
        self._id = (st.st_dev, st.st_ino)
        self._write(info)
        return True

    def release(self) -> None:
        """Let go of the lock (emptying the file first, so that it names no engine)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)

    def __del__(self) -> None:  # an engine dropped without closing still lets go
        self.release()


def _try_lock(fd: int, how: int) -> bool:
    try:
        fcntl.flock(fd, how | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def _same_file(path: Path, fd: int) -> bool:
    try:
        st, fst = os.lstat(path), os.fstat(fd)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino)


def read_fd(fd: int) -> dict[str, Any]:
    """What the lock file open at ``fd`` says of its holder ({} when empty or unreadable)."""
    try:
        data = os.pread(fd, 65536, 0)
        info = json.loads(data.decode()) if data else {}
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def read_holder(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What the lock file says of its holder ({} when there is none)."""
    try:
        fd = os.open(path, os.O_RDONLY | NOFOLLOW | CLOEXEC)
    except OSError:
        return {}
    try:
        return read_fd(fd)
    finally:
        os.close(fd)


def held(path: str | os.PathLike[str]) -> bool | None:
    """Whether an engine holds the lock at ``path``: True, False, or None when there is no
    lock file (a ledger of an older slc-tui). A probe: nothing is held after it returns."""
    try:
        fd = os.open(path, os.O_RDONLY | NOFOLLOW | CLOEXEC)
    except OSError:
        return None
    try:
        if _try_lock(fd, fcntl.LOCK_SH):
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        return True
    finally:
        os.close(fd)


def refusal(path: Path, holder: dict[str, Any]) -> SweepError:
    """The one error for a second start of a grid whose engine runs."""
    grid = str(holder.get("grid") or path.stem)
    target = str(holder.get("grid_file") or holder.get("ledger") or path.with_suffix(".db"))
    pid = holder.get("pid", "unknown")
    return SweepError(
        f"{grid!r} is already running (engine pid {pid}, holding {path})",
        cli=f"watch it with 'slc-tui attach {target}' or stop it with 'slc-tui stop {target}'",
        python=f"watch it with 'slc-tui attach {target}', or stop it first with "
        f"'slc-tui stop {target}'",
    )
