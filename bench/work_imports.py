"""The thunk of the import-heavy benchmark: import a training stack, then a fixed amount of
work (as a real run does before its first step)."""

from __future__ import annotations

import importlib

import work  # beside this file: a file thunk's folder is on the path (slc_tui.thunks)


def heavy(seed: int = 0, n: int = 1000, modules: str = "", logger_kwargs: object = None,
          **_: object) -> None:  # fmt: skip
    """Import each of ``modules`` (comma-separated), then ``n`` iterations of ``work.spin``."""
    for name in filter(None, modules.split(",")):
        importlib.import_module(name)
    work.spin(n)
