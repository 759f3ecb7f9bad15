"""The values of a grid file: each key's type checked, each problem a ``GridFileError``.

Pure functions over parsed TOML; :mod:`slc_tui.gridfile` calls them table by table.
"""

from __future__ import annotations

import math
from typing import Any

from slc_tui.experiment import RESERVED_KEYS, logger_kwargs_problem
from slc_tui.gridfile_lines import KeyPath, Problems, closest

OPTION_KEYS = ("values", "shorthand", "in_name")
DIST_KINDS = ("loguniform", "uniform", "int", "choice")
"""The distribution form's keys (:data:`slc_tui.search_space.KINDS`)."""
_NOT_HERE = {
    "num_cpu": "it belongs in [grid] (MPI ranks per run)",
    "exp_name": "run names come from [grid] name and the parameters that vary",
}
RESERVED = {k: _NOT_HERE.get(k, "it belongs in [grid]") for k in RESERVED_KEYS}
"""Keys that ``[params]`` may not hold (nor start with), and where they belong instead: the
reserved keys of ``call_experiment``. (``"logger_kwargs:KEY"`` keys are parameters: each run
gets them merged under its own ``output_dir`` and ``exp_name``, which no grid may set.)"""


def toml_repr(value: Any) -> str:
    """``value`` as it looks in TOML (``"four"``, ``true``), for messages."""
    import json

    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def check_plain(p: Problems, key: KeyPath, value: Any) -> None:
    """Refuse, anywhere in a document, what no run can take: a TOML date or time (runs get
    strings, numbers, booleans, arrays; a date would not go into the ledger) and a NUL byte
    in a key or a string (no path, name, option or argument may hold one)."""
    import datetime

    if isinstance(value, (datetime.date, datetime.time)):
        raise p.error(
            key,
            f"{value.isoformat()} is a TOML date or time, which no run can take; write it as "
            f'a string, "{value.isoformat()}"',
        )
    if isinstance(value, str) and "\0" in value:
        raise p.error(key, f"{toml_repr(value)} has a NUL byte; no value may hold one")
    if isinstance(value, list):
        for item in value:
            check_plain(p, key, item)
    elif isinstance(value, dict):
        for sub, item in value.items():
            if "\0" in sub:
                where = f"[{key[0]}]" if key else "a table"
                raise p.error((*key, sub), f"the key {sub!r} has a NUL byte", where=where)
            check_plain(p, (*key, sub), item)


def as_text(p: Problems, key: KeyPath, value: Any) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise p.error(key, f"{toml_repr(value)} is not a non-empty string; write it in quotes")
    return value


def as_flag(p: Problems, key: KeyPath, value: Any) -> bool:
    """A boolean."""
    if not isinstance(value, bool):
        raise p.error(
            key, f"{toml_repr(value)} is not a boolean; write true or false, without quotes"
        )
    return value


def as_cpus(p: Problems, key: KeyPath, value: Any) -> int | str:
    """A CPU count: an int >= 1 or ``"auto"``."""
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value  # type: ignore[no-any-return]
    raise p.error(key, f'{toml_repr(value)} is not a CPU count; give a whole number >= 1 or "auto"')


def as_number(p: Problems, key: KeyPath, value: Any, integer: bool) -> float:
    """A finite number >= 0 (an int when ``integer``)."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, kinds) and not isinstance(value, bool) and 0 <= value < float("inf"):
        return value
    want = "a whole number >= 0" if integer else "a number of seconds >= 0 (0 means no limit)"
    raise p.error(key, f"{toml_repr(value)} is not allowed here; give {want}")


def as_values(p: Problems, key: KeyPath, value: Any) -> Any:
    """A parameter's values: an array is several values, anything else one value."""
    if isinstance(value, list) and not value:
        raise p.error(key, "an empty list of values; give at least one value")
    if isinstance(value, dict):
        raise p.error(key, "a table is not a value; write dict-valued parameters with 'a:b' keys")
    return value


def dist_form(p: Problems, key: KeyPath, table: dict[str, Any]) -> tuple[Any, str | None, bool]:
    """The ``{ loguniform = [a, b], shorthand = "..." }`` form: a distribution a search samples."""
    from slc_tui.search_space import dist_problem, make_dist

    kinds = [k for k in table if k in DIST_KINDS]
    if len(kinds) > 1 or "values" in table:
        raise p.error((*key, kinds[-1]), "give one distribution or values, not both")
    for sub in table:
        if sub in (*DIST_KINDS, "shorthand", "in_name"):
            continue
        raise p.error((*key, sub), "unknown key; a distribution has one of "
                      f"{', '.join(DIST_KINDS)}, and shorthand")  # fmt: skip
    if problem := dist_problem(kinds[0], table[kinds[0]]):
        raise p.error((*key, kinds[0]), problem)
    shorthand = table.get("shorthand")
    if shorthand is not None and not isinstance(shorthand, str):
        raise p.error(
            (*key, "shorthand"), f"{toml_repr(shorthand)} is not a string; write it in quotes"
        )
    in_name = as_flag(p, (*key, "in_name"), table.get("in_name", True))
    return make_dist(kinds[0], table[kinds[0]]), shorthand, in_name


def option_form(p: Problems, key: KeyPath, table: dict[str, Any]) -> tuple[Any, str | None, bool]:
    """The ``{ values = ..., shorthand = "...", in_name = bool }`` form of a parameter (or
    a distribution: :func:`dist_form`)."""
    if any(k in DIST_KINDS for k in table):
        return dist_form(p, key, table)
    for sub in table:
        if sub in OPTION_KEYS:
            continue
        if "values" not in table:
            near = closest(sub, DIST_KINDS)
            hint = f" (did you mean the distribution {near}?)" if near else ""
            raise p.error(
                (*key, sub),
                "a table under [params] is the option form { values = ..., shorthand = ..., "
                f"in_name = ... }} or a distribution {{ {' | '.join(DIST_KINDS)} = ... }}, "
                f"which has no key {sub!r}{hint}; write a dict-valued parameter as "
                f'"{key[-1]}:{sub}" = ...',
            )
        near = closest(sub, OPTION_KEYS)
        hint = f" (did you mean {near}?)" if near else ""
        raise p.error(
            (*key, sub), f"unknown key{hint}; an option table has values, shorthand, in_name"
        )
    if "values" not in table:
        raise p.error(key, "the option table needs values = ... (one value or an array)")
    shorthand = table.get("shorthand")
    if shorthand is not None and not isinstance(shorthand, str):
        raise p.error(
            (*key, "shorthand"), f"{toml_repr(shorthand)} is not a string; write it in quotes"
        )
    in_name = as_flag(p, (*key, "in_name"), table.get("in_name", False))
    return as_values(p, (*key, "values"), table["values"]), shorthand, in_name


def param_list(p: Problems, params: dict[str, Any]) -> list[tuple[str, Any, str | None, bool]]:
    """The ``[params]`` table as ``(key, values, shorthand, in_name)`` in file order."""
    if not params:
        raise p.error(("params",), "no parameters; give at least one, e.g. seed = [0, 10, 20]")
    out: list[tuple[str, Any, str | None, bool]] = []
    for key, value in params.items():
        at = ("params", key)
        head = key.split(":")[0]
        if head in RESERVED:
            raise p.error(at, f"{head} is not a parameter: {RESERVED[head]}")
        if "" in key.split(":"):
            raise p.error(at, "an empty part between ':'; a dict-valued parameter is \"a:b\" = ...")
        for earlier, *_ in out:
            if key.startswith(earlier + ":") or earlier.startswith(key + ":"):
                both = min(key, earlier, key=len)
                raise p.error(at, f"{earlier!r} and {key!r} both set {both!r}; keep only one")
        if isinstance(value, dict):
            out.append((key, *option_form(p, at, value)))
        else:
            out.append((key, as_values(p, at, value), None, False))
        vals = out[-1][1]
        if problem := logger_kwargs_problem(key, vals if isinstance(vals, list) else [vals]):
            raise p.error(at, problem)
    return out
