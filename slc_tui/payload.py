"""The payload file a run's entrypoint reads: the thunk, its keyword arguments, the caller's path.

A payload is two objects in one file: a small header (the caller's ``sys.path`` and working
directory, read first so that the body can import the user's modules) and the body (thunk and
kwargs). A grid file's thunk is a ``module:function`` string and its kwargs plain data: such a
payload is written with ``marshal`` (after :data:`MARSHALLED`), which a run reads at no import
cost (the unpickler alone costs a start-up ~3 ms: ``functools``, ``collections``); anything
else is two pickles, and a callable thunk from the Python API goes through cloudpickle. The file is
created readable by its owner only; its content is never shown in messages.
"""

from __future__ import annotations

import marshal
import os
import sys

TYPE_CHECKING = False  # typing and dataclasses cost ~20 ms: a run's start-up imports neither
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, Callable, Union

    Thunk = Union[str, Callable[..., Any]]


class Payload:
    """What a run executes: ``thunk(**kwargs)`` with ``sys_path`` and ``cwd`` of the caller."""

    __slots__ = ("cwd", "kwargs", "sys_path", "thunk")

    def __init__(
        self,
        thunk: Thunk,
        kwargs: dict[str, Any],
        sys_path: list[str] | None = None,
        cwd: str | None = None,
    ) -> None:
        self.thunk = thunk
        """A ``module:function`` / ``file.py:function`` reference, or a callable."""
        self.kwargs = kwargs
        """Keyword arguments of the thunk (``seed`` and ``logger_kwargs`` included)."""
        self.sys_path = list(sys.path) if sys_path is None else sys_path
        """The caller's import path, so whatever the caller can import, the run can too."""
        self.cwd = os.getcwd() if cwd is None else cwd
        """The caller's working directory (file thunks and relative paths resolve from it)."""


MARSHALLED = b"slc-tui marshal 1\n"
"""The first bytes of a payload written with ``marshal`` (the engine and its runs share one
interpreter, so its format)."""


def _marshalled(header: dict[str, Any], body: tuple[Thunk, dict[str, Any]]) -> bytes | None:
    """The payload in ``marshal`` form, or None when the body is more than plain data."""
    if not isinstance(body[0], str):
        return None
    try:  # only exact builtin types marshal: a subclass, a numpy scalar... is pickled
        return MARSHALLED + marshal.dumps(header) + marshal.dumps(body)  # type: ignore[arg-type]
    except ValueError:
        return None


def _dumps_body(body: tuple[Thunk, dict[str, Any]]) -> bytes:
    import pickle

    if isinstance(body[0], str):
        try:
            data = pickle.dumps(body, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError):
            pass
        else:
            if b"__main__" not in data:  # names in the caller's script: only cloudpickle works
                return data
    import cloudpickle  # deferred: ~60 ms, only needed for callables

    return cloudpickle.dumps(body, protocol=pickle.HIGHEST_PROTOCOL)  # type: ignore[no-any-return]


def _temp_names(folder: str) -> Iterator[str]:
    """Unpredictable names for a payload's temporary file in ``folder``."""
    for _ in range(100):
        yield os.path.join(folder, f".tmp-{os.urandom(6).hex()}")


def _make_dirs(folder: str) -> None:
    """Make ``folder`` and its missing parents, each made one mode 0700 whatever the umask."""
    if not folder or os.path.isdir(folder):
        return
    _make_dirs(os.path.dirname(folder))
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        return
    os.chmod(folder, 0o700, follow_symlinks=False)


def write_payload(path: str | os.PathLike[str], payload: Payload) -> None:
    """Write ``payload`` to ``path`` atomically, readable by its owner only.

    The temporary file has an unpredictable name and is created with ``O_EXCL |
    O_NOFOLLOW`` (a file or symlink planted under that name is never written through), mode
    0600 whatever the umask; folders made on the way are 0700. ``os.replace`` then swaps
    the file in (a symlink at ``path`` is replaced, not followed).
    """
    header = {"version": 1, "sys_path": payload.sys_path, "cwd": payload.cwd}
    data = _marshalled(header, (payload.thunk, payload.kwargs))
    if data is None:
        import pickle

        body = _dumps_body((payload.thunk, payload.kwargs))
        data = pickle.dumps(header, protocol=pickle.HIGHEST_PROTOCOL) + body
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    _make_dirs(folder)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    for tmp in _temp_names(folder):
        try:
            fd = os.open(tmp, flags, 0o600)
        except FileExistsError:
            continue
        break
    else:
        raise FileExistsError(f"no free temporary name for a payload in {folder}")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        _discard(tmp)
        raise


def _discard(path: str) -> None:
    """Remove a half-written temporary file (contextlib costs a run's start-up ~2 ms)."""
    try:
        os.unlink(path)
    except OSError:
        return


def read_payload(path: str | os.PathLike[str]) -> Payload:
    """Read a payload, extending ``sys.path`` with the caller's path before the body loads."""
    with open(path, "rb") as f:
        load: Callable[[Any], Any] = marshal.load
        if f.read(len(MARSHALLED)) != MARSHALLED:
            f.seek(0)
            import pickle

            load = pickle.load
        header = load(f)
        for entry in header["sys_path"]:
            if entry not in sys.path:
                sys.path.append(entry)
        if "" in header["sys_path"] and header["cwd"] not in sys.path:
            sys.path.insert(0, header["cwd"])
        thunk, kwargs = load(f)
    return Payload(thunk=thunk, kwargs=kwargs, sys_path=header["sys_path"], cwd=header["cwd"])
