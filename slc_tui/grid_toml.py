"""A grid as the text of a grid file (DESIGN.md "Grid file (TOML)"): ``--save-grid FILE.toml``.

The inverse of :func:`slc_tui.gridfile.load_grid`: the text loads back into a grid with the same
keys, values, shorthands and so the same variant names and folders. A key keeps the plain form
(``seed = [0, 10]``) when the loader would give it the same shorthand on its own, and the option
form (``{ values = ..., shorthand = "h" }``) otherwise. One list or dict value is an array of one
(``hid = [[64, 64]]``), as the format reads an array as several values. Tuples are written as
arrays (their names are the same; the thunk then receives lists). ``logger_kwargs:KEY`` keys
are written as any other key; the grid's zips and excludes as ``[[zip]]`` and ``[[exclude]]``
tables.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any

from slc_tui import user_config
from slc_tui.errors import InputError
from slc_tui.gridfile_values import RESERVED

if TYPE_CHECKING:
    from slc_tui.grid import ExperimentGrid

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_INT64 = range(-(2**63), 2**63)


class _NoToml(Exception):
    """A value TOML cannot hold; ``str()`` says which."""


def _string(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _NoToml(f"{text!r} (not valid Unicode text)") from None
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _key(key: str) -> str:
    return key if _BARE.fullmatch(key) else _string(key)


def value_text(value: Any) -> str:
    """``value`` as a TOML value; _NoToml for None, huge integers and what TOML has no form of."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if value not in _INT64:
            raise _NoToml(f"{value} (beyond TOML's 64-bit integers)")
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, dict):
        for k in value:
            if not isinstance(k, str):
                raise _NoToml(f"{value!r} (TOML tables have string keys only)")
        items = ", ".join(f"{_key(k)} = {value_text(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    raise _NoToml(f"{value!r} (TOML has no {'null' if value is None else type(value).__name__})")


def _values_text(vals: list[Any]) -> str:
    """A key's values: one scalar as itself, else an array (of one, for one list or dict)."""
    if len(vals) == 1 and not isinstance(vals[0], (list, tuple, dict)):
        return value_text(vals[0])
    return value_text(vals)


def to_toml(grid: ExperimentGrid, thunk: str, run_kwargs: dict[str, Any]) -> str:
    """The text of a grid file that loads into ``grid`` run as ``run_kwargs`` say.

    Args:
        grid: the grid (its name becomes ``[grid] name``).
        thunk: the ``module:function`` or ``file.py:function`` reference.
        run_kwargs: ``num_cpu``, ``data_dir`` (None: left out, so the file's default
            ``"data"`` applies) and ``datestamp``.

    Raises:
        InputError: a value the grid file format cannot hold (None, for one), naming its key.
    """
    from slc_tui.grid import default_shorthand

    lines = ["# An slc-tui grid file (slc-tui FILE.toml runs it).", "[grid]"]
    lines.append(f"name = {_string(grid.grid_name)}")
    try:
        lines.append(f"thunk = {_string(thunk)}")
    except _NoToml as exc:
        raise InputError(f"the thunk {exc} cannot be written to a grid file") from None
    num_cpu = run_kwargs.get("num_cpu", 1)
    lines.append(f"num_cpu = {_string(num_cpu) if num_cpu == 'auto' else value_text(num_cpu)}")
    if run_kwargs.get("data_dir") is not None:
        lines.append(f"data_dir = {_string(str(run_kwargs['data_dir']))}")
    lines.append(f"datestamp = {value_text(bool(run_kwargs.get('datestamp', False)))}")
    lines += ["", "[params]"]
    for key, vals, sh, in_name in zip(grid.keys, grid.vals, grid.shs, grid.in_names):
        if (head := key.split(":")[0]) in RESERVED:
            raise InputError(f"{key}: the grid file format does not take it: {RESERVED[head]}")
        try:
            text = _values_text(vals)
        except _NoToml as exc:
            raise InputError(f"{key}: the grid file format cannot hold the value {exc}") from None
        loaded = default_shorthand(key) if user_config.DEFAULT_SHORTHAND else None
        options = [] if sh is None or sh == loaded else [f"shorthand = {_string(sh)}"]
        options += ["in_name = true"] if in_name else []
        if options:
            text = "{ " + ", ".join([f"values = {text}", *options]) + " }"
        lines.append(f"{_key(key)} = {text}")
    for group in grid.zipped:
        lines += ["", "[[zip]]", f"keys = {value_text(group)}"]
    for exclude in grid.excluded:
        lines += ["", "[[exclude]]"]
        for key, value in exclude.items():
            try:
                lines.append(f"{_key(key)} = {value_text(value)}")
            except _NoToml as exc:
                raise InputError(
                    f"{key}: the grid file format cannot hold the excluded value {exc}"
                ) from None
    return "\n".join(lines) + "\n"
