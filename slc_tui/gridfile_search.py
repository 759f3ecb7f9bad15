"""The ``[search]`` table of a grid file as a :class:`~slc_tui.search.Search`; each problem a
``GridFileError`` naming the file, the key and its line, found before anything runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slc_tui.gridfile_lines import Problems, check_keys
from slc_tui.gridfile_values import toml_repr
from slc_tui.search import SEARCH_KEYS, Search, SearchError, optuna_missing, setup

if TYPE_CHECKING:
    from slc_tui.grid import ExperimentGrid


def search_of(
    p: Problems, table: dict[str, Any], grid: ExperimentGrid, to_run: bool = True
) -> Search | None:
    """The ``[search]`` table (None when absent), checked against the grid's distributions;
    Optuna is looked for only for a grid ``to_run`` (a view that reads a sweep needs none).

    Raises:
        GridFileError: an unknown key, a value it cannot take, a missing metric, Optuna not
            installed, or distributions that do not fit the method.
    """
    search = None
    if table:
        check_keys(p, ("search",), table, SEARCH_KEYS, {})
        try:
            search = Search(**table)
        except TypeError as exc:  # pragma: no cover - check_keys refused unknown keys
            raise p.error(("search",), str(exc)) from None
        if bad := search.problem():
            key, why = bad
            if key not in table:
                raise p.error(("search",), f"the key {key} {why}")
            raise p.error(("search", key), f"{toml_repr(table[key])} {why}")
        if to_run and search.method == "optuna" and optuna_missing():
            raise p.error(("search", "method"), '"optuna" needs Optuna, which is not '
                          'installed; pip install "slc-tui[search]" (or optuna)')  # fmt: skip
    try:
        setup(grid, search)
    except SearchError as exc:
        at = tuple(exc.key.split(".", 1)) if exc.key.startswith("search.") else ("params", exc.key)
        raise p.error(at, exc.problem) from None
    return search
