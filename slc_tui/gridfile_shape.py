"""The ``[[zip]]`` and ``[[exclude]]`` tables of a grid file: parameters that vary together,
and combinations left out (:meth:`ExperimentGrid.zip` and :meth:`ExperimentGrid.exclude`).

```toml
[[zip]]                    # lr and batch vary together: (1e-3, 32), (1e-4, 64)
keys = ["lr", "batch"]

[[exclude]]                # no variant with both lr = 1e-4 and pop_size = 8
lr = 1e-4
pop_size = 8
```
Each problem is a ``GridFileError`` with the line of the table or of its key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slc_tui.grid_space import GridShapeError
from slc_tui.gridfile_lines import Problems, closest

if TYPE_CHECKING:
    from slc_tui.grid import ExperimentGrid

ARRAYS = ("zip", "exclude")
"""The arrays of tables a grid file may hold, besides its tables."""
_EXAMPLE = {"zip": 'keys = ["lr", "batch"]', "exclude": "lr = 1e-4"}


def _tables(p: Problems, doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = doc.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise p.error(
            (name,),
            f"must be an array of tables: write [[{name}]] on a line of its own, then "
            f"{_EXAMPLE[name]} (one [[{name}]] for each)",
            where=f"[[{name}]]",
        )
    return value


def _bare(exc: Exception) -> str:
    """The grid's message without its ``zip:`` or ``exclude ...:`` start (the file's
    ``[[zip]]`` or ``[[exclude]]`` says it)."""
    text = str(exc)
    return text.split(": ", 1)[1] if text.startswith(ARRAYS) and ": " in text else text


def add_shape(p: Problems, grid: ExperimentGrid, doc: dict[str, Any]) -> None:
    """Zip and exclude in ``grid`` what the file's ``[[zip]]`` and ``[[exclude]]`` say."""
    for i, table in enumerate(_tables(p, doc, "zip")):
        at = ("zip", str(i))
        for key in table:
            if key != "keys":
                near = " (did you mean keys?)" if closest(key, ("keys",)) else ""
                raise p.error((*at, key), f"unknown key{near}; a [[zip]] table holds only "
                              "keys = [...]", where=f"[[zip]] {key}")  # fmt: skip
        keys = table.get("keys")
        if keys is None:
            raise p.error(at, 'needs keys = ["a", "b", ...], the parameters that vary '
                          "together", where="[[zip]]")  # fmt: skip
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise p.error((*at, "keys"), "give the names of the parameters that vary together, "
                          'as in keys = ["lr", "batch"]', where="[[zip]] keys")  # fmt: skip
        try:
            grid.zip(*keys)
        except (TypeError, ValueError) as exc:
            raise p.error((*at, "keys"), _bare(exc), where="[[zip]] keys") from None
    for i, table in enumerate(_tables(p, doc, "exclude")):
        at = ("exclude", str(i))
        if not table:
            raise p.error(at, "is empty; give the values to leave out together, as in "
                          "lr = 1e-4", where="[[exclude]]")  # fmt: skip
        try:
            grid.exclude(table)
        except GridShapeError as exc:
            if exc.key is not None and exc.key in table:
                raise p.error((*at, exc.key), _bare(exc), where=f"[[exclude]] {exc.key}") from None
            raise p.error(at, _bare(exc), where="[[exclude]]") from None
