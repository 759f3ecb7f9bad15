"""The reference's ``ExperimentGrid``: parameter values, variants, and their names.

Deliberate fixes over the reference: an empty grid, an empty value list, a key given twice,
both ``a`` and ``a:b``, keys that clash with ``call_experiment``'s own parameters, and a
``logger_kwargs`` ``output_dir`` or ``exp_name`` (each run's own) are ``ValueError``s; the
caller's values are never mutated. Additions: :meth:`ExperimentGrid.zip` (keys that vary
together) and :meth:`ExperimentGrid.exclude` (combinations left out), see
:mod:`slc_tui.grid_space`. Running a grid is the sweep layer's (:mod:`slc_tui.run_utils` adds
``run``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping
from typing import Any

from slc_tui import user_config
from slc_tui.experiment import DIV_LINE_WIDTH, RESERVED_KEYS, colorize, logger_kwargs_problem
from slc_tui.grid_keys import default_shorthand, fresh, get_val, unflatten
from slc_tui.grid_space import Space, build_space, exclude_digits, pairs, zip_groups
from slc_tui.serialization import all_bools, convert_json, valid_str

__all__ = ["ExperimentGrid", "default_shorthand"]


class ExperimentGrid:
    """Tool for running many experiments given hyperparameter ranges."""

    def __init__(self, name: str = "") -> None:
        """Start an empty grid whose variant names begin with ``name``."""
        self.keys: list[str] = []
        """Parameter keys, in ``add`` order."""
        self.vals: list[list[Any]] = []
        """For each key, its list of values."""
        self.shs: list[str | None] = []
        """For each key, its shorthand (None: the key itself appears in names)."""
        self.in_names: list[bool] = []
        """For each key, whether it appears in names even with a single value."""
        self.zipped: list[list[str]] = []
        """Groups of keys that vary together (:meth:`zip`), each in ``add`` order."""
        self.excluded: list[dict[str, Any]] = []
        """Combinations left out (:meth:`exclude`), as ``{key: value}``."""
        self._space: Space | None = None
        self._name = ""
        self.name(name)

    def name(self, _name: str) -> None:
        """Set the grid's name (the prefix of every variant name)."""
        if not isinstance(_name, str):
            raise TypeError(f"the grid name must be a string, not {type(_name).__name__}")
        self._name = _name

    @property
    def grid_name(self) -> str:
        """The grid's name."""
        return self._name

    def _default_shorthand(self, key: str) -> str:
        """The default shorthand of ``key`` (see ``default_shorthand``)."""
        return default_shorthand(key)

    def _check_key(self, key: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"a grid key must be a string, not {type(key).__name__}")
        if not key or "" in key.split(":"):
            raise ValueError(f"grid key {key!r} is empty or has an empty ':' part")
        head = key.split(":", 1)[0]
        if head in RESERVED_KEYS:
            raise ValueError(
                f"grid key {key!r} clashes with call_experiment's own parameter {head!r}; "
                f"pass {head} to run() instead (reserved: {', '.join(sorted(RESERVED_KEYS))})"
            )
        for other in self.keys:
            if other == key:
                raise ValueError(f"grid key {key!r} is given twice; give all its values at once")
            if other.startswith(key + ":") or key.startswith(other + ":"):
                raise ValueError(
                    f"grid keys {other!r} and {key!r} both assign {min(other, key, key=len)!r}; "
                    "use only one of them"
                )

    def add(self, key: str, vals: Any, shorthand: str | None = None, in_name: bool = False) -> None:
        """Add a parameter (key) to the grid config, with potential values (vals).

        Args:
            key: Name of the parameter; ``a:b`` sets ``b`` inside the dict parameter ``a``.
            vals: A ``list`` of values, or any other object as the single value.
            shorthand: Short name of the parameter in variant names; ``''`` shows the value
                only. When None, one is made from the key unless
                ``user_config.DEFAULT_SHORTHAND`` is False.
            in_name: Put the parameter into variant names even when it has a single value.

        Raises:
            TypeError: ``key`` or ``shorthand`` is not a string.
            ValueError: an empty value list, a key given twice, ``a`` with ``a:b``, a key
                reserved by ``call_experiment``, or a ``logger_kwargs`` that is no dict or
                sets ``output_dir`` or ``exp_name`` (each run's own).
        """
        self._check_key(key)
        if shorthand is not None and not isinstance(shorthand, str):
            raise TypeError(f"the shorthand of grid key {key!r} must be a string")
        if isinstance(vals, list):
            if not vals:
                raise ValueError(f"grid key {key!r} has an empty list of values; give at least one")
            vals = [fresh(v) for v in vals]
        else:
            vals = [fresh(vals)]
        if problem := logger_kwargs_problem(key, vals):
            raise ValueError(f"grid key {key!r}: {problem}")
        if shorthand is None and user_config.DEFAULT_SHORTHAND:
            shorthand = self._default_shorthand(key)
        self.keys.append(key)
        self.vals.append(vals)
        self.shs.append(shorthand)
        self.in_names.append(bool(in_name))
        self._space = None

    def zip(self, *keys: str) -> None:
        """Make ``keys`` vary together: the i-th value of each goes with the i-th value of
        the others, instead of every combination of them (``zip("lr", "batch")`` after
        ``add("lr", [1e-3, 1e-4])`` and ``add("batch", [32, 64])``: two variants, not four).

        The keys must have been added, with as many values each; a key already zipped
        brings its group along. Each key keeps its place and shorthand in variant names;
        ``seed`` cannot be zipped (every variant runs with every seed).

        Raises:
            ValueError: fewer than two keys, an unknown key, ``seed``, a key given twice,
                keys with different numbers of values, or an exclude that would then match
                no variant.
        """
        groups = zip_groups(self.keys, self.vals, self.zipped, keys, self.shs)
        self._space = build_space(self.keys, self.vals, groups, self.excluded)
        self.zipped = groups

    def exclude(self, combination: Mapping[str, Any]) -> None:
        """Leave out every variant whose values match all of ``combination``'s
        (``exclude({"lr": 1e-4, "pop_size": 8})``); seeds are not affected.

        Each key must have been added, and each value must be one of that key's values.

        Raises:
            TypeError: ``combination`` is not a dict.
            ValueError: no key, an unknown key, ``seed``, a value that is none of the key's
                values, a combination no variant has (its keys vary together and the values
                never meet), or an exclude that leaves no variant.
        """
        exclude_digits(self.keys, self.vals, combination, self.shs)
        given = {k: fresh(v) for k, v in combination.items()}
        self._space = build_space(self.keys, self.vals, self.zipped, [*self.excluded, given],
                                  given)  # fmt: skip
        self.excluded.append(given)

    def shape(self) -> Space | None:
        """The grid's combinations when it has zips or excludes (None: every combination)."""
        if not (self.zipped or self.excluded):
            return None
        if self._space is None:
            self._space = build_space(self.keys, self.vals, self.zipped, self.excluded)
        return self._space

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_space": None}  # rebuilt when asked for

    def _require_params(self) -> None:
        if not self.keys:
            raise ValueError(
                f"experiment grid {self._name!r} has no parameters; add some with add()"
            )

    def variant_name(self, variant: dict[str, Any]) -> str:
        """The experiment name of a variant: grid name, then ``_`` shorthand value per key.

        A key appears when it has several values or ``in_name``; ``seed`` never does. A key
        whose values are all booleans appears as ``_shorthand`` when true, not at all when false.
        """
        var_name = self._name
        for k, v, sh, inn in zip(self.keys, self.vals, self.shs, self.in_names):
            if (len(v) > 1 or inn) and k != "seed":
                param_name = valid_str(sh if sh is not None else k)
                variant_val = get_val(variant, k)
                if all_bools(v):
                    var_name += ("_" + param_name) if variant_val else ""
                else:
                    var_name += "_" + param_name + valid_str(variant_val)
        return var_name.lstrip("_")

    def variants(self) -> list[dict[str, Any]]:
        """Every configuration of the grid, as nested dicts (``a:b`` -> ``{'a': {'b': ...}}``).

        The product runs in ``add`` order with the first key slowest. Each variant holds its
        own copies of container values.

        Raises:
            ValueError: the grid has no parameters.
        """
        return list(self.iter_variants())

    def iter_variants(self) -> Iterator[dict[str, Any]]:
        """The variants of :meth:`variants` one at a time (a huge grid is never held whole)."""
        self._require_params()
        keys = self.keys
        space = self.shape()
        if space is not None:
            at, vals = space.factor_of, self.vals
            for ds in space.kept():
                yield unflatten({k: fresh(vals[i][ds[at[i]]]) for i, k in enumerate(keys)})
            return
        for combo in itertools.product(*self.vals):
            yield unflatten({k: fresh(v) for k, v in zip(keys, combo)})

    def variant_count(self) -> int:
        """How many variants the grid has (seeds counted, excluded combinations not)."""
        self._require_params()
        space = self.shape()
        return math.prod(len(v) for v in self.vals) if space is None else space.count

    def digits(self, index: int) -> list[int]:
        """Which value of each key variant number ``index`` takes (first key slowest)."""
        space = self.shape()
        if space is not None:
            ds = space.digits(space.raw_at(index))
            return [ds[f] for f in space.factor_of]
        out = []
        for vals in reversed(self.vals):
            index, d = divmod(index, len(vals))
            out.append(d)
        return out[::-1]

    def variant_at(self, index: int) -> dict[str, Any]:
        """Variant number ``index`` of :meth:`variants`, made alone (negative counts back).

        Raises:
            IndexError: no such variant.
        """
        n = self.variant_count()
        if not -n <= index < n:
            raise IndexError(f"variant {index} of {n}")
        digits = self.digits(index % n)
        return unflatten({k: fresh(v[d]) for k, v, d in zip(self.keys, self.vals, digits)})

    def name_parts(self) -> list[list[str] | None]:
        """For each key, the text each of its values adds to :meth:`variant_name` (None: the
        key is not in names), so that the name of variant ``digits`` is
        ``(grid_name + "".join(parts[k][d] ...)).lstrip("_")`` without building the variant."""
        parts: list[list[str] | None] = []
        for k, v, sh, inn in zip(self.keys, self.vals, self.shs, self.in_names):
            if not ((len(v) > 1 or inn) and k != "seed"):
                parts.append(None)
                continue
            param_name = valid_str(sh if sh is not None else k)
            if all_bools(v):
                parts.append([("_" + param_name) if x else "" for x in v])
            else:
                parts.append(["_" + param_name + valid_str(x) for x in v])
        return parts

    def print(self) -> None:
        """Print a helpful report about the experiment grid."""
        self._require_params()
        print("=" * DIV_LINE_WIDTH)
        base_msg = "ExperimentGrid %s runs over parameters:\n"
        name_insert = "[" + self._name + "]"
        if len(base_msg % name_insert) <= 80:
            msg = base_msg % name_insert
        else:
            msg = base_msg % (name_insert + "\n")
        print(colorize(msg, color="green", bold=True))

        for k, v, sh in zip(self.keys, self.vals, self.shs):
            color_k = colorize(k.ljust(40), color="cyan", bold=True)
            print("", color_k, "[" + sh + "]" if sh is not None else "", "\n")
            for val in v:
                print("\t" + str(convert_json(val)))
            print()

        for group in self.zipped:
            print(" Vary together: ".ljust(40), ", ".join(group))
        for exclude in self.excluded:
            print(" Left out: ".ljust(40), pairs(exclude))
        if self.zipped or self.excluded:
            print()
        nvars_total = self.variant_count()
        if "seed" in self.keys:
            num_seeds = len(self.vals[self.keys.index("seed")])
            nvars_seedless = int(nvars_total / num_seeds)
        else:
            nvars_seedless = nvars_total
        print(" Variants, counting seeds: ".ljust(40), nvars_total)
        print(" Variants, not counting seeds: ".ljust(40), nvars_seedless)
        print()
        print("=" * DIV_LINE_WIDTH)
