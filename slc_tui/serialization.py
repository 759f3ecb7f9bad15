"""JSON conversion and name-safe strings, with the reference's rules (and its tuple bug fixed)."""

from __future__ import annotations

import json
import string
from typing import Any

_VALID_NAME_CHARS = frozenset("-_" + string.ascii_letters + string.digits)


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


def all_bools(vals: list[Any]) -> bool:
    """Return True when every value is a ``bool``."""
    return all(isinstance(v, bool) for v in vals)
