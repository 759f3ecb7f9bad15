"""What a failing rank of a run says: its traceback, then one line for the engine.

The line is ``slc-tui: raised TYPE: MESSAGE (at FILE:LINE in FUNCTION)`` (``slc-tui: MPI rank N
raised ...`` from a rank of an MPI job), which :mod:`slc_tui.engine.reasons` finds at the end of
the log however long the traceback is (a torch traceback is longer than the tail the ledger
keeps). The place is the innermost frame of the thunk's own code: a frame of the thunk's file
or of its top-level package (even installed in site-packages), or of any file outside the
standard library, site-packages and slc-tui (the user's own helpers). Imported only when a run
fails: the entrypoint's start stays cheap.
"""

from __future__ import annotations

import os
import sys
import traceback
from types import TracebackType

MESSAGE_MAX = 300
"""Characters of an exception's message in the line, at most."""
_LIBRARY = (
    os.path.dirname(os.path.abspath(os.__file__)) + os.sep,
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,
)
"""The standard library's folder and slc-tui's."""


def report(exc: BaseException, thunk: object = None, skip: int = 1, who: str = "") -> str:
    """The traceback of an exception (without its ``skip`` outer frames: the entrypoint's),
    then the line that sums it up for the engine: ``slc-tui: {who}raised SUMMARY``."""
    tb = exc.__traceback__
    for _ in range(skip):
        tb = tb.tb_next if tb else None
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    return f"{text}slc-tui: {who}raised {summary(exc, thunk, tb)}\n"


def summary(exc: BaseException, thunk: object = None, tb: TracebackType | None = None) -> str:
    """``TYPE: MESSAGE (at FILE:LINE in FUNCTION)`` of an exception the thunk raised, in one
    line: the type as a traceback names it, the message on one line (at most
    :data:`MESSAGE_MAX` characters), the innermost frame of the thunk's own code in ``tb``
    (or in the traceback of the exception that caused it)."""
    kind = type(exc)
    name = kind.__qualname__
    if kind.__module__ not in ("builtins", "__main__"):
        name = f"{kind.__module__}.{name}"
    try:
        message = " ".join(str(exc).split())
    except Exception:
        message = "(its message cannot be shown)"
    if len(message) > MESSAGE_MAX:
        message = message[: MESSAGE_MAX - 3] + "..."
    own, where = _own_code(thunk), ""
    cause: BaseException | None = exc
    for _ in range(5):  # a cause's traceback, when none of the thunk's code is in this one
        where = _innermost(tb, own)
        cause = cause.__cause__ or cause.__context__ if cause else None
        if where or cause is None:
            break
        tb = cause.__traceback__
    text = f"{name}: {message}" if message else name
    return f"{text} (at {where})" if where else text


def _own_code(thunk: object) -> tuple[str, ...]:
    """The thunk's file, and its top-level package (its folder) or module (its file)."""
    func = getattr(thunk, "func", thunk)  # a functools.partial
    own = []
    code = getattr(func, "__code__", None)
    if code is not None:
        own.append(os.path.abspath(code.co_filename))
    top = str(getattr(func, "__module__", None) or "").partition(".")[0]
    file = getattr(sys.modules.get(top), "__file__", None) if top != "__main__" else None
    if file:
        file = os.path.abspath(file)
        is_package = os.path.basename(file).startswith("__init__.")
        own.append(os.path.dirname(file) + os.sep if is_package else file)
    return tuple(own)


def _innermost(tb: TracebackType | None, own: tuple[str, ...]) -> str:
    """``FILE:LINE in FUNCTION`` of the innermost frame in ``tb`` of the thunk's own code
    (``own``), or of no library: not the standard library's, site-packages' or slc-tui's."""
    found = ""
    while tb is not None:
        code = tb.tb_frame.f_code
        name = code.co_filename
        path = name if name.startswith("<") else os.path.abspath(name)
        if path.startswith(own) or not (
            path.startswith(_LIBRARY)
            or path.startswith("<frozen")
            or f"{os.sep}site-packages{os.sep}" in path
            or f"{os.sep}dist-packages{os.sep}" in path
        ):
            found = f"{os.path.basename(name)}:{tb.tb_lineno} in {code.co_name}"
        tb = tb.tb_next
    return found
