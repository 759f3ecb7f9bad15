"""Grid keys: the reference's default shorthand, and ``a:b`` keys as nested dicts."""

from __future__ import annotations

import copy
import string
from typing import Any

_SHORTHAND_CHARS = frozenset(string.ascii_letters + string.digits)


def default_shorthand(key: str) -> str:
    """The reference default shorthand: of each ``:`` part, the letters and digits among its
    first three characters, joined with ``-`` (``pi:hidden_sizes`` -> ``pi-hid``)."""
    return "-".join(
        "".join(c for c in part[:3] if c in _SHORTHAND_CHARS) for part in key.split(":")
    )


def fresh(value: Any) -> Any:
    """A copy of a container value (so no variant shares it with the caller), else the value."""
    if isinstance(value, (dict, list, tuple, set)):
        return copy.deepcopy(value)
    return value


def get_val(variant: dict[str, Any], key: str) -> Any:
    """The value of ``key`` in a (possibly nested) variant: ``a:b:c`` is ``v['a']['b']['c']``."""
    if key in variant:
        return variant[key]
    head, _, rest = key.partition(":")
    return get_val(variant[head], rest)


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """Nest the ``a:b`` keys of one flat variant, keeping the first-seen key order."""
    nested: dict[str, Any] = {}
    groups: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        head, sep, rest = key.partition(":")
        if not sep:
            if key in nested:
                raise ValueError(f"variant assigns both {key!r} and keys inside it; use only one")
            nested[key] = value
            continue
        if head not in groups:
            if head in nested:
                raise ValueError(f"variant assigns both {head!r} and {key!r}; use only one")
            groups[head] = nested[head] = {}
        groups[head][rest] = value
    for head, sub in groups.items():
        nested[head] = unflatten(sub)
    return nested
