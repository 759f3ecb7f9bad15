"""A grid's runs: one run (:class:`Run`), and all of a grid's runs made on demand.

:class:`LazyRuns` is a sequence: index it or iterate it and each run is made when it is asked
for, so a grid of millions of variants is never held whole (a dry run, the planner's checks);
:meth:`LazyRuns.rows` gives each run's names and folder without making its kwargs.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

from slc_tui.experiment import date_stamps, run_folder
from slc_tui.options import RunOptions
from slc_tui.serialization import seed_str

if TYPE_CHECKING:
    from slc_tui.grid import ExperimentGrid
    from slc_tui.payload import Thunk

Row = tuple[str, str, str]
"""A run as a dry run prints it: ``(variant, name, output_dir)``."""


@dataclass
class Run:
    """One run of the plan: ``thunk(**kwargs)`` writing into ``output_dir``."""

    name: str
    """Unique name: ``exp_name_s{seed}``, the basename of the output directory."""
    idx: int
    """Position in the plan."""
    grid: str
    """Name of the grid the run belongs to."""
    variant: str
    """The seedless variant name (the reference's ``exp_name``)."""
    seed: Any
    kwargs: dict[str, Any]
    """Keyword arguments of the thunk, ``seed`` and ``logger_kwargs`` included (the grid's
    ``logger_kwargs`` keys merged under the run's own ``output_dir`` and ``exp_name``)."""
    output_dir: str
    num_cpu: int
    """MPI ranks (slots of the CPU budget) the run takes."""
    thunk: Thunk
    options: RunOptions = field(default_factory=RunOptions)
    """Options of the run's grid (retries, timeout...)."""
    logger_params: dict[str, Any] | None = None
    """The ``logger_kwargs`` keys the grid gave, as given (None: the grid gave none)."""
    gpus: float = 0.0
    """GPU devices the run takes: 0, a fraction of one device (0.5: two runs share it), or a
    whole number of devices (only where the sweep has a GPU budget)."""

    @property
    def params(self) -> dict[str, Any]:
        """The kwargs the user chose: ``logger_kwargs`` only with the keys the grid gave."""
        return {
            k: self.logger_params if k == "logger_kwargs" else v
            for k, v in self.kwargs.items()
            if k != "logger_kwargs" or self.logger_params is not None
        }


def logger_kwargs_of(output_dir: str, exp_name: str, given: Any) -> dict[str, Any]:
    """A run's ``logger_kwargs``: its ``output_dir`` and ``exp_name``, then the grid's keys
    (``given``), as SLC's ``call_experiment`` merges them; ``verbose_fmt = "line"`` sets
    ``verbose_vars`` to None, as there."""
    out: dict[str, Any] = {"output_dir": output_dir, "exp_name": exp_name}
    if isinstance(given, dict):
        out.update((k, v) for k, v in given.items() if k not in out)
        if out.get("verbose_fmt") == "line":  # SLC: a one-line format logs every variable
            out["verbose_vars"] = None
    return out


class LazyRuns(Sequence[Run]):
    """The runs of one grid, each made when it is asked for (by index or in order).

    :meth:`rows` gives every run's names and folder without making its kwargs, from the
    grid's name parts (when the grid names variants the reference's way).
    """

    def __init__(self, grid: ExperimentGrid, thunk: Thunk, data_dir: str, *, ranks: int = 1,
                 datestamp: bool = False, options: RunOptions | None = None,
                 start_idx: int = 0, gpus: float = 0.0) -> None:  # fmt: skip
        from slc_tui.grid import ExperimentGrid as Base

        self.grid, self.data_dir, self.num_cpu, self.start_idx = grid, data_dir, ranks, start_idx
        self.gpus = gpus
        self.options = options or RunOptions()
        self.stamps = date_stamps(datestamp)
        self.thunk_key = thunk if isinstance(thunk, str) and thunk in grid.keys else None
        self.thunk = thunk
        self._n = grid.variant_count()
        self.seed_at = grid.keys.index("seed") if "seed" in grid.keys else None
        seeds = [0] if self.seed_at is None else grid.vals[self.seed_at]
        self.fast = None not in seeds and all(
            getattr(type(grid), m) is getattr(Base, m)
            for m in ("variant_name", "iter_variants", "variant_at", "name_parts", "shape")
        )
        self.space = grid.shape() if self.fast else None
        """The grid's zips and excludes (None: every combination)."""

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> Run: ...
    @overload
    def __getitem__(self, i: slice) -> list[Run]: ...
    def __getitem__(self, i: int | slice) -> Run | list[Run]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if not -self._n <= i < self._n:
            raise IndexError(f"run {i} of {self._n}")
        return self.make(i % self._n, self.grid.variant_at(i))

    def __iter__(self) -> Iterator[Run]:
        for i, variant in enumerate(self.grid.iter_variants()):
            yield self.make(i, variant)

    def make(self, i: int, variant: dict[str, Any]) -> Run:
        """Run number ``i`` of the grid (``variant`` is the grid's variant ``i``)."""
        exp_name = self.grid.variant_name(variant)
        kwargs = dict(variant)  # variants are fresh copies of the grid's values
        thunk = kwargs.pop(self.thunk_key) if self.thunk_key else self.thunk
        seed = kwargs.get("seed", 0)
        kwargs["seed"] = seed
        text = None if seed is None else seed_str(seed)
        output_dir = os.path.join(self.data_dir, run_folder(exp_name, text, self.stamps))
        given = kwargs.get("logger_kwargs")
        kwargs["logger_kwargs"] = logger_kwargs_of(output_dir, exp_name, given)
        return Run(name=f"{exp_name}_s{seed}", idx=self.start_idx + i, grid=self.grid.grid_name,
                   variant=exp_name, seed=seed, kwargs=kwargs, output_dir=output_dir,
                   num_cpu=self.num_cpu, thunk=thunk, options=self.options,
                   logger_params=given if isinstance(given, dict) else None,
                   gpus=self.gpus)  # fmt: skip

    def _parts(self) -> tuple[str, list[list[str]], list[str], int] | None:
        """The grid name, the name parts of each factor but the seed (a key, or keys zipped
        together), the seeds' texts, and the seed's place among the factors; None when
        zipped keys interleave with others in names (each name is then joined key by key)."""
        grid, seed_at = self.grid, self.seed_at
        seeds = ["0"] if seed_at is None else [seed_str(s) for s in grid.vals[seed_at]]
        parts = [p or [""] for p in grid.name_parts()]
        if self.space is None:
            if seed_at is not None:
                del parts[seed_at]
            return grid.grid_name, parts, seeds, len(parts) if seed_at is None else seed_at
        space = self.space
        named = [space.factor_of[k] for k, p in enumerate(grid.name_parts()) if p]
        if named != sorted(named):
            return None
        seed_f = len(space.factors) if seed_at is None else space.factor_of[seed_at]
        joined = [
            ["".join(parts[k][d] for k in keys) for d in range(size)]
            for f, (keys, size) in enumerate(zip(space.factors, space.sizes))
            if f != seed_f
        ]
        return grid.grid_name, joined, seeds, seed_f

    def rows(self) -> Iterator[Row]:
        """``(variant, name, output_dir)`` of every run, in plan order."""
        if not self.fast:
            yield from ((r.variant, r.name, r.output_dir) for r in self)
            return
        layout = self._parts()
        if layout is None:
            yield from (row for rows in self._by_key(every_seed=False) for row in rows)
            return
        grid, parts, seeds, at = layout
        day, full = self.stamps
        top = os.path.join(self.data_dir, "")
        mask = None if self.space is None else self.space.mask
        kept = itertools.repeat(0) if mask is None else iter(mask)  # 1: left out
        for before in itertools.product(*parts[:at]):
            head = grid + "".join(before)
            for seed in seeds:
                for after, out in zip(itertools.product(*parts[at:]), kept):
                    if out:
                        continue
                    variant = (head + "".join(after)).lstrip("_")
                    name = f"{variant}_s{seed}"
                    yield variant, name, f"{top}{day}{variant}{os.sep}{full}{name}"

    def groups(self) -> Iterator[tuple[str, list[Row]]]:
        """The runs by variant, in the order variants first appear, a variant at a time."""
        if not self.fast:
            yield from grouped(self.rows())
            return
        layout = self._parts()
        if layout is None:
            yield from ((rows[0][0], rows) for rows in self._by_key(every_seed=True))
            return
        grid, parts, seeds, at = layout
        day, full = self.stamps
        top = os.path.join(self.data_dir, "")
        mask = None if self.space is None else self.space.mask
        after = math.prod(len(p) for p in parts[at:])  # combinations after the seed
        for i, combo in enumerate(itertools.product(*parts)):
            if mask is not None and mask[(i // after) * len(seeds) * after + i % after]:
                continue  # left out, with every seed (seed 0 stands for them)
            variant = (grid + "".join(combo)).lstrip("_")
            names = [f"{variant}_s{seed}" for seed in seeds]
            yield variant, [(variant, n, f"{top}{day}{variant}{os.sep}{full}{n}") for n in names]

    def _by_key(self, every_seed: bool) -> Iterator[list[Row]]:
        """The rows of a grid whose zipped keys interleave with others in names, each name
        joined key by key: each kept combination's row (``every_seed``: each variant's rows,
        one per seed, where the variant first appears)."""
        space, seed_at = self.space, self.seed_at
        assert space is not None
        at = space.factor_of
        named = [(at[k], p) for k, p in enumerate(self.grid.name_parts()) if p]
        seeds = ["0"] if seed_at is None else [seed_str(s) for s in self.grid.vals[seed_at]]
        seed_f = None if seed_at is None else at[seed_at]
        day, full = self.stamps
        top = os.path.join(self.data_dir, "")
        for ds in space.kept():
            if every_seed and seed_f is not None and ds[seed_f]:
                continue  # the variant's first seed gave its rows
            variant = (self.grid.grid_name + "".join([p[ds[f]] for f, p in named])).lstrip("_")
            mine = seeds if every_seed else [seeds[0 if seed_f is None else ds[seed_f]]]
            names = [f"{variant}_s{seed}" for seed in mine]
            yield [(variant, n, f"{top}{day}{variant}{os.sep}{full}{n}") for n in names]


def grouped(rows: Iterable[Row]) -> Iterator[tuple[str, list[Row]]]:
    """Rows by variant, in the order variants first appear."""
    by_variant: dict[str, list[Row]] = {}
    for row in rows:
        by_variant.setdefault(row[0], []).append(row)
    yield from by_variant.items()
