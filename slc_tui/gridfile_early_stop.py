"""The ``[early_stop]`` table of a grid file as an :class:`~slc_tui.early_stop.EarlyStop`;
each problem a ``GridFileError`` naming the file, the key and its line."""

from __future__ import annotations

from typing import Any

from slc_tui.early_stop import EarlyStop, EarlyStopError, early_stop_of
from slc_tui.gridfile_lines import Problems, check_keys

TABLE = "early_stop"


def early_stop_table(p: Problems, table: dict[str, Any]) -> EarlyStop | None:
    """The checked ``[early_stop]`` table, or None when the file has none."""
    if not table:
        return None
    from slc_tui.early_stop import KEYS

    check_keys(p, (TABLE,), table, KEYS, {})
    try:
        return early_stop_of(table)
    except EarlyStopError as exc:
        key = (TABLE, exc.key) if exc.key in table else (TABLE,)
        raise p.error(key, exc.problem) from None
