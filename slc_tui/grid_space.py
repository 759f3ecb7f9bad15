"""The combinations of an ``ExperimentGrid`` with zipped keys or excluded combinations.

A *factor* is one key, or keys zipped together (the i-th value of each goes with the i-th of
the others). The product runs over the factors in the order of their first keys, the first
slowest, as the reference's product runs over keys; ``seed`` is always a factor of its own,
so that every variant runs with every seed. An exclude leaves out every combination whose
values match all of its keys' values.

Planning stays linear: the excluded combinations are marked in a mask (one byte per
combination, marked a block of trailing factors at a time), counted by the C code of
``bytearray.count``, and the i-th kept combination is found from counts per block in
logarithmic time. Nothing here knows about names or runs.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

BLOCK = 1 << 16
"""Combinations per block of the mask's running counts."""


class GridShapeError(ValueError):
    """A zip or an exclude that cannot be: ``key`` names the key at fault, if one is."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def same(given: Any, value: Any) -> bool:
    """Whether an exclude's ``given`` value is the key's ``value``: equal, with a boolean
    only ever equal to a boolean (``True`` is not the value ``1``)."""
    if isinstance(given, bool) or isinstance(value, bool):
        return type(given) is type(value) and given == value
    try:
        return bool(given == value)
    except Exception:  # an array's == gives no single answer
        return False


def shown(values: Sequence[Any], most: int = 6) -> str:
    """A key's values for a message: ``0.1, 0.2, ...`` (the first few)."""
    text = ", ".join(repr(v) for v in values[:most])
    return text + (f", ... ({len(values)} values)" if len(values) > most else "")


def factors_of(count: int, groups: Sequence[Sequence[int]]) -> list[list[int]]:
    """The factors of ``count`` keys (by index) given the zip ``groups``, in the order of
    their first keys."""
    group_of = {k: tuple(sorted(g)) for g in groups for k in g}
    out: list[list[int]] = []
    seen: set[tuple[int, ...]] = set()
    for k in range(count):
        group = group_of.get(k, (k,))
        if group not in seen:
            seen.add(group)
            out.append(list(group))
    return out


class Space:
    """The kept combinations of a grid, numbered in product order.

    Args:
        sizes: the number of values of each key.
        groups: the zipped keys, as lists of key indices (keys of a group have equal sizes).
        excludes: for each exclude, the digits (value indices) each of its keys may take.

    """

    def __init__(self, sizes: Sequence[int], groups: Sequence[Sequence[int]],
                 excludes: Sequence[Mapping[int, frozenset[int]]] = ()) -> None:  # fmt: skip
        self.factors = factors_of(len(sizes), groups)
        """Key indices of each factor, in product order."""
        self.factor_of = [0] * len(sizes)
        """The factor of each key."""
        for f, keys in enumerate(self.factors):
            for k in keys:
                self.factor_of[k] = f
        self.sizes = [sizes[keys[0]] for keys in self.factors]
        """The number of values of each factor."""
        self.total = math.prod(self.sizes)
        self.mask: bytearray | None = None
        """1 for each combination left out (None without excludes)."""
        self.count = self.total
        """The number of kept combinations."""
        self._before: list[int] = []
        if excludes:
            self._exclude([self._by_factor(e) for e in excludes])

    def _by_factor(self, exclude: Mapping[int, frozenset[int]]) -> dict[int, list[int]]:
        """An exclude's allowed digits per factor (the keys of one factor must agree)."""
        out: dict[int, frozenset[int]] = {}
        for k, digits in exclude.items():
            f = self.factor_of[k]
            out[f] = out[f] & digits if f in out else digits
        return {f: sorted(d) for f, d in out.items()}

    def matches(self, exclude: Mapping[int, frozenset[int]]) -> int:
        """How many combinations ``exclude`` matches on its own."""
        by_factor = self._by_factor(exclude)
        return math.prod(len(by_factor[f]) if f in by_factor else size
                         for f, size in enumerate(self.sizes))  # fmt: skip

    def _exclude(self, excludes: list[dict[int, list[int]]]) -> None:
        weights = [math.prod(self.sizes[f + 1 :]) for f in range(len(self.sizes))]
        mask = bytearray(self.total)
        for exclude in excludes:
            last = max(exclude)
            span = weights[last]
            ones = b"\x01" * span
            offsets = [
                [d * weights[f] for d in exclude.get(f, range(self.sizes[f]))]
                for f in range(last + 1)
            ]
            for parts in itertools.product(*offsets):
                start = sum(parts)
                mask[start : start + span] = ones
        self.mask = mask
        self.count = self.total - mask.count(1)
        kept = 0
        for start in range(0, self.total, BLOCK):
            self._before.append(kept)
            kept += min(BLOCK, self.total - start) - mask.count(1, start, start + BLOCK)

    def raw_at(self, i: int) -> int:
        """The product number of kept combination ``i`` (0 <= i < count)."""
        if self.mask is None:
            return i
        block = bisect.bisect_right(self._before, i) - 1
        start = lo = block * BLOCK
        hi = min(lo + BLOCK, self.total)
        need = i - self._before[block]
        while lo < hi:  # the first position with need + 1 kept combinations up to it
            mid = (lo + hi) // 2
            if (mid + 1 - start) - self.mask.count(1, start, mid + 1) > need:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def digits(self, raw: int) -> list[int]:
        """The digit of each factor in product number ``raw`` (first factor slowest)."""
        out = []
        for size in reversed(self.sizes):
            raw, d = divmod(raw, size)
            out.append(d)
        return out[::-1]

    def kept(self) -> Iterator[tuple[int, ...]]:
        """The factor digits of each kept combination, in product order."""
        combos = itertools.product(*(range(s) for s in self.sizes))
        if self.mask is None:
            yield from combos
            return
        mask = self.mask
        for raw, digits in enumerate(combos):
            if not mask[raw]:
                yield digits


def _closest(word: str, keys: Sequence[str]) -> str:
    from slc_tui.gridfile_lines import closest  # only on an error: off the import path

    found = closest(word, keys)
    return f" (did you mean {found!r}?)" if found else ""


def _known(keys: Sequence[str], key: Any, what: str, shs: Sequence[str | None]) -> int:
    """The index of ``key`` among the grid's keys, for a zip or an exclude (``shs``: the
    keys' shorthands, which a user may give by mistake)."""
    if not isinstance(key, str):
        raise TypeError(f"{what}: a grid key must be a string, not {type(key).__name__}")
    if key not in keys:
        short = [k for k, sh in zip(keys, shs) if sh == key]
        hint = f" (it is the shorthand of {short[0]!r})" if short else _closest(key, keys)
        raise GridShapeError(
            f"{what}: {key!r} is not a parameter of the grid{hint}; {what} takes parameters "
            "already given, by their keys",
            key,
        )
    if key == "seed":
        how = "zipped" if what == "zip" else "left out (drop it from seed's values instead)"
        raise GridShapeError(f"{what}: seed cannot be {how}: every variant runs with every seed",
                             key)  # fmt: skip
    return keys.index(key)


def zip_groups(keys: Sequence[str], vals: Sequence[Sequence[Any]],
               groups: Sequence[Sequence[str]], new: Sequence[Any],
               shs: Sequence[str | None] = ()) -> list[list[str]]:  # fmt: skip
    """The zip groups once the keys ``new`` are zipped: a group that shares a key with
    ``new`` is merged with it; keys stay in ``add`` order.

    Raises:
        GridShapeError: fewer than two keys, a key given twice, unknown or ``seed``, or
            keys with different numbers of values.
    """
    if len(new) < 2:
        raise GridShapeError("zip: give two or more keys, which then vary together")
    for i, key in enumerate(new):
        _known(keys, key, "zip", shs)
        if key in new[:i]:
            raise GridShapeError(f"zip: {key!r} is given twice", key)
    merged = set(new)
    kept: list[list[str]] = []
    for group in groups:
        if merged & set(group):
            merged |= set(group)
        else:
            kept.append(list(group))
    group = sorted(merged, key=keys.index)
    first = group[0]
    for key in group[1:]:
        n, m = len(vals[keys.index(first)]), len(vals[keys.index(key)])
        if n != m:
            raise GridShapeError(
                f"zip: {first!r} has {n} value{'s' if n != 1 else ''} but {key!r} has {m}; "
                "keys that vary together need as many values each",
                key,
            )
    return sorted([*kept, group], key=lambda g: keys.index(g[0]))


def exclude_digits(keys: Sequence[str], vals: Sequence[Sequence[Any]], exclude: Any,
                   shs: Sequence[str | None] = ()) -> dict[int, frozenset[int]]:  # fmt: skip
    """The digits (value indices) each key of ``exclude`` matches, by key index.

    Raises:
        TypeError: ``exclude`` is not a dict.
        GridShapeError: no key, a key unknown or ``seed``, or a value that is none of the
            key's values.
    """
    if not isinstance(exclude, Mapping):
        raise TypeError(f"exclude: give a dict of key: value, not {type(exclude).__name__}")
    if not exclude:
        raise GridShapeError("exclude: give at least one key: value to leave out")
    out: dict[int, frozenset[int]] = {}
    for key, given in exclude.items():
        k = _known(keys, key, "exclude", shs)
        digits = frozenset(d for d, v in enumerate(vals[k]) if same(given, v))
        if not digits:
            raise GridShapeError(
                f"exclude: {given!r} is not one of the values of {key!r} ({shown(vals[k])})",
                key,
            )
        out[k] = digits
    return out


def pairs(combination: Mapping[str, Any]) -> str:
    """An exclude for a message: ``lr=0.0001, pop_size=8``."""
    return ", ".join(f"{k}={v!r}" for k, v in combination.items())


def build_space(keys: Sequence[str], vals: Sequence[Sequence[Any]],
                groups: Sequence[Sequence[str]], excluded: Sequence[Mapping[str, Any]],
                new: Mapping[str, Any] | None = None) -> Space:  # fmt: skip
    """The space of a grid's ``groups`` (zipped keys) and ``excluded`` combinations.

    Raises:
        GridShapeError: an exclude no variant matches, or excludes that leave no variant
            (``new``: the exclude being added, named in the message).
    """
    index = {k: i for i, k in enumerate(keys)}
    digits = [exclude_digits(keys, vals, e) for e in excluded]
    space = Space([len(v) for v in vals], [[index[k] for k in g] for g in groups], digits)
    for exclude, found in zip(excluded, digits):
        if not space.matches(found):
            zipped = [
                k for g in groups if len(set(g) & set(exclude)) > 1 for k in g if k in exclude
            ]
            raise GridShapeError(
                f"exclude {pairs(exclude)}: no variant has these values together "
                f"({' and '.join(map(repr, zipped))} vary together, value by value)"
            )
    if not space.count:
        which = f"exclude {pairs(new)}" if new else "zip"
        raise GridShapeError(f"{which}: the excludes would leave the grid no variant")
    return space
