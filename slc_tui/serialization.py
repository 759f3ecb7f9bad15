"""JSON conversion and name-safe strings, with the reference's rules (and its tuple bug fixed)."""

from __future__ import annotations

import json
import string
from typing import Any

_VALID_NAME_CHARS = frozenset("-_" + string.ascii_letters + string.digits)
_SEED_CHARS = _VALID_NAME_CHARS | {"."}
NAME_LIMIT = 200
"""The longest grid name (it names the ledger file and a folder)."""


def is_json_serializable(value: Any) -> bool:
    """Return True when ``json.dumps`` accepts ``value`` as it is."""
    try:
        json.dumps(value)
    except (TypeError, ValueError, OverflowError):
        return False
    return True


def convert_json(obj: Any) -> Any:
    """Convert ``obj`` to a JSON-serializable form, as the reference ``convert_json`` does.

    Dicts and lists convert item by item, tuples become lists (the reference returned a
    generator here), named objects become their ``__name__``, other objects with a ``__dict__``
    become ``{str(obj): {...}}``, and anything else its ``str``.
    """
    if is_json_serializable(obj):
        return obj
    if isinstance(obj, dict):
        return {convert_json(k): convert_json(v) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return [convert_json(x) for x in obj]
    if hasattr(obj, "__name__") and "lambda" not in obj.__name__:
        return convert_json(obj.__name__)
    if hasattr(obj, "__dict__") and obj.__dict__:
        obj_dict = {convert_json(k): convert_json(v) for k, v in obj.__dict__.items()}
        return {str(obj): obj_dict}
    return str(obj)


def valid_str(v: Any) -> str:
    """A name-safe string for ``v`` (the reference ``valid_str``).

    Objects with ``__name__`` use it, lists and tuples join their items with ``-``, anything
    else is ``str(v).lower()`` with each character outside ``[-_A-Za-z0-9]`` turned into ``-``.
    """
    if hasattr(v, "__name__"):
        return valid_str(v.__name__)
    if isinstance(v, (tuple, list)):
        return "-".join(valid_str(x) for x in v)
    return "".join(c if c in _VALID_NAME_CHARS else "-" for c in str(v).lower())


def name_problem(name: str, empty: bool = False) -> str | None:
    """Why ``name`` cannot be a grid name (it names the ledger and every run's folder), or
    None: letters, digits, ``_``, ``-`` and ``.`` (not first), at most ``NAME_LIMIT``
    characters. The empty name (the reference's default) is allowed when ``empty``."""
    if not name and empty:
        return None
    if not name or set(name) - _SEED_CHARS or name[0] in ".-" or len(name) > NAME_LIMIT:
        return (
            "cannot serve as a file name; use letters, digits, '_', '-' and '.' "
            f"(not first), at most {NAME_LIMIT} characters"
        )
    return None


def seed_str(seed: Any) -> str:
    """The seed as run names and folders write it (``exp_name_s{seed}``), or ValueError.

    The reference writes ``str(seed)`` as it is; so does this for every seed whose text has
    only letters, digits, ``-``, ``_`` and ``.`` (ints, floats, plain words: the names stay
    byte for byte the reference's). Any other seed (a path, a space, a NUL, a list, a date)
    is refused rather than rewritten: it is passed to the thunk as it is, so a folder named
    after a rewritten seed would hide which seed a run had.
    """
    if type(seed) is int:
        return str(seed)
    text = str(seed)
    if set(text) <= _SEED_CHARS:
        return text
    raise ValueError(
        f"the seed {seed!r} cannot be part of a folder name; give an integer seed "
        "(a seed may hold only letters, digits, '-', '_' and '.')"
    )


def all_bools(vals: list[Any]) -> bool:
    """Return True when every value is a ``bool``."""
    return all(isinstance(v, bool) for v in vals)
