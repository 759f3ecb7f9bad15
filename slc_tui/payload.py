"""The payload file a run's entrypoint reads: the thunk, its keyword arguments, the caller's path.

A payload is two pickles in one file: a small header (the caller's ``sys.path`` and working
directory, read first so that the body can import the user's modules) and the body (thunk and
kwargs). A grid file's thunk is a ``module:function`` string and plain data pickles with the
standard library; a callable thunk from the Python API goes through cloudpickle. The file is
created readable by its owner only; its content is never shown in messages.
"""

from __future__ import annotations

import os
import pickle
import sys

TYPE_CHECKING = False  # typing and dataclasses cost ~20 ms: a run's start-up imports neither
if TYPE_CHECKING:
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


def _dumps_body(body: tuple[Thunk, dict[str, Any]]) -> bytes:
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


def write_payload(path: str | os.PathLike[str], payload: Payload) -> None:
    """Write ``payload`` to ``path`` atomically, readable by its owner only."""
    header = {"version": 1, "sys_path": payload.sys_path, "cwd": payload.cwd}
    data = pickle.dumps(header, protocol=pickle.HIGHEST_PROTOCOL) + _dumps_body(
        (payload.thunk, payload.kwargs)
    )
    path = os.fspath(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def read_payload(path: str | os.PathLike[str]) -> Payload:
    """Read a payload, extending ``sys.path`` with the caller's path before the body loads."""
    with open(path, "rb") as f:
        header = pickle.load(f)
        for entry in header["sys_path"]:
            if entry not in sys.path:
                sys.path.append(entry)
        if "" in header["sys_path"] and header["cwd"] not in sys.path:
            sys.path.insert(0, header["cwd"])
        thunk, kwargs = pickle.load(f)
    return Payload(thunk=thunk, kwargs=kwargs, sys_path=header["sys_path"], cwd=header["cwd"])
