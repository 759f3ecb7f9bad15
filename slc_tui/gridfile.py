"""Grid files: a TOML file becomes a validated ``GridSpec`` (an ``ExperimentGrid`` plus options).

The format is DESIGN.md's "Grid file (TOML)". Every problem is a ``GridFileError`` whose
message is one sentence naming the file, the key and, where the scan finds it, the line.
Loading creates nothing on disk (not the data directory, not a ``__pycache__`` of the thunk).

Path rules:
    - ``[grid] data_dir`` is relative to the current directory, stored absolute.
    - A relative thunk file (``"train.py:train"``) is looked up next to the grid file first,
      then in the current directory; the spec stores it as an absolute ``path.py:function``.
      A ``module:function`` thunk is stored as written and imported from ``sys.path``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slc_tui.early_stop import EarlyStop
from slc_tui.gpus import share_problem
from slc_tui.gridfile_early_stop import early_stop_table
from slc_tui.gridfile_lines import (
    GridFileError,
    LineMap,
    Problems,
    check_keys,
    read_toml,
)
from slc_tui.gridfile_run import RUN_KEYS, run_options
from slc_tui.gridfile_search import search_of
from slc_tui.gridfile_shape import ARRAYS, add_shape
from slc_tui.gridfile_values import (
    as_cpus,
    as_flag,
    as_text,
    check_plain,
    param_list,
    toml_repr,
)
from slc_tui.options import RunOptions
from slc_tui.serialization import name_problem

if TYPE_CHECKING:
    from slc_tui.grid import ExperimentGrid
    from slc_tui.search import Search

__all__ = ["GridFileError", "GridSpec", "load_grid", "load_grids"]

TABLES = ("grid", "params", "run", "slurm", "early_stop", "search", *ARRAYS)
GRID_KEYS = ("name", "thunk", "num_cpu", "gpus_per_run", "data_dir", "datestamp")
CONFIG_SUFFIXES = (".yml", ".yaml")
"""What names a stable-learning-control experiment file rather than a TOML grid file."""


@dataclass
class GridSpec:
    """One loaded and validated grid file."""

    path: Path
    """The grid file, absolute."""
    name: str
    """``[grid] name``: the prefix of every variant name and the ledger's file name."""
    thunk: str
    """``[grid] thunk``, resolved: ``module:function`` or ``/abs/path/file.py:function``."""
    num_cpu: int | str
    """MPI ranks per run: an int >= 1 or ``"auto"``."""
    gpus_per_run: float
    """GPU devices per run: 0, a fraction that divides one, or a whole number."""
    data_dir: Path
    """``[grid] data_dir``, absolute."""
    datestamp: bool
    """Whether output folders get a date and time stamp."""
    grid: ExperimentGrid
    """The ``[params]`` table, added key by key in file order, then zipped and excluded as
    the ``[[zip]]`` and ``[[exclude]]`` tables say."""
    options: RunOptions
    """The ``[run]`` table, plus the raw ``[slurm]`` table."""
    line_of: dict[str, int] = field(default_factory=dict)
    """The line of each table and key found in the file: ``"params.pop_size" -> 9``."""
    shown_path: str = ""
    """The path as the user gave it, for messages."""
    early_stop: EarlyStop | None = None
    """The ``[early_stop]`` table, when the file has one."""
    search: Search | None = None
    """The ``[search]`` table (None: every combination of the grid)."""

    def error(self, key: str, problem: str) -> GridFileError:
        """A ``GridFileError`` about ``key`` (``"params.pop_size"``) of this file, with its line."""
        shown = self.shown_path or str(self.path)
        return Problems(self.path, shown).error_at(
            tuple(key.split(".", 1)), problem, self.line_of.get(key)
        )


def _thunk(p: Problems, ref: Any, grid_dir: Path, check: bool) -> str:
    """The resolved thunk reference; imported and checked to be callable when ``check``."""
    from slc_tui.thunks import ThunkError, is_file_ref, no_bytecode, resolve

    key = ("grid", "thunk")
    ref = as_text(p, key, ref)
    module, sep, attr = ref.rpartition(":")
    if not sep or not module or not attr:
        raise p.error(key, f"{ref!r} must look like 'module:function' or 'path/file.py:function'")
    if is_file_ref(module):
        file = Path(os.path.expanduser(module))
        if not file.is_absolute():
            here, cwd = grid_dir / file, Path.cwd() / file
            file = cwd if not here.is_file() and cwd.is_file() else here
            if check and not file.is_file():
                raise p.error(
                    key,
                    f"no file {module} next to the grid file ({grid_dir}) "
                    f"or in the current directory ({Path.cwd()})",
                )
        ref = f"{os.path.normpath(file)}:{attr}"
    if check:
        try:
            with no_bytecode():
                resolve(ref)
        except ThunkError as exc:
            raise p.error(key, str(exc)) from None
    return ref


def _grid_name(p: Problems, value: Any) -> str:
    """``[grid] name``, which must be safe as a file name."""
    name = as_text(p, ("grid", "name"), value)
    if problem := name_problem(name):
        raise p.error(("grid", "name"), f"{toml_repr(name)} {problem}")
    return name


def _table(p: Problems, doc: dict[str, Any], name: str, required: bool) -> dict[str, Any]:
    """The top-level table ``name`` (empty when optional and absent)."""
    value = doc.get(name)
    if value is None:
        if required:
            raise p.error((), f"the [{name}] table is missing; see the grid file format in README")
        return {}
    if not isinstance(value, dict):
        raise p.error((name,), f"must be a table, written [{name}] on a line of its own")
    return value


def load_grid(path: str | Path, *, check_thunk: bool = True) -> GridSpec:
    """Load a grid file into a validated ``GridSpec``.

    Args:
        path: the TOML grid file, or a stable-learning-control experiment file (``.yml``).
        check_thunk: import the thunk and check that it is callable.

    Raises:
        GridFileError: anything wrong with the file, as one sentence with file, key and line.
    """
    from slc_tui.grid import ExperimentGrid

    if str(path).lower().endswith(CONFIG_SUFFIXES):
        return _load_config(path, check_thunk)

    shown = str(path)
    abs_path = Path(os.path.abspath(os.path.expanduser(path)))
    text, doc = read_toml(abs_path, shown)
    lines = LineMap(text)
    p = Problems(abs_path, shown, lines)
    check_plain(p, (), doc)
    check_keys(p, (), doc, TABLES, {k: "grid" for k in GRID_KEYS} | {k: "run" for k in RUN_KEYS})
    grid_t = _table(p, doc, "grid", required=True)
    params_t = _table(p, doc, "params", required=True)
    run_t, slurm_t = _table(p, doc, "run", False), _table(p, doc, "slurm", False)
    check_keys(p, ("grid",), grid_t, GRID_KEYS, {k: "run" for k in RUN_KEYS})
    check_keys(p, ("run",), run_t, RUN_KEYS, {k: "grid" for k in GRID_KEYS})
    for required in ("name", "thunk"):
        if required not in grid_t:
            raise p.error(("grid",), f"the key {required} is missing; {required} = ... is required")
    name = _grid_name(p, grid_t["name"])
    thunk = _thunk(p, grid_t["thunk"], abs_path.parent, check_thunk)
    num_cpu = as_cpus(p, ("grid", "num_cpu"), grid_t.get("num_cpu", 1))
    data_dir = as_text(p, ("grid", "data_dir"), grid_t.get("data_dir", "data"))
    datestamp = as_flag(p, ("grid", "datestamp"), grid_t.get("datestamp", False))
    gpus_per_run = grid_t.get("gpus_per_run", 0)
    if problem := share_problem(gpus_per_run):
        raise p.error(("grid", "gpus_per_run"), f"{toml_repr(gpus_per_run)} {problem}")
    options = run_options(p, run_t, slurm_t)
    early_stop = early_stop_table(p, _table(p, doc, "early_stop", False))
    grid = ExperimentGrid(name)
    for key, vals, shorthand, in_name in param_list(p, params_t):
        try:
            grid.add(key, vals, shorthand=shorthand, in_name=in_name)
        except (TypeError, ValueError) as exc:
            raise p.error(("params", key), str(exc)) from None
    add_shape(p, grid, doc)
    search = search_of(p, _table(p, doc, "search", False), grid, check_thunk)
    return GridSpec(
        path=abs_path,
        name=name,
        thunk=thunk,
        num_cpu=num_cpu,
        gpus_per_run=float(gpus_per_run),
        data_dir=Path(os.path.abspath(os.path.expanduser(data_dir))),
        datestamp=datestamp,
        grid=grid,
        options=options,
        line_of=lines.as_dict(),
        shown_path=shown,
        early_stop=early_stop,
        search=search,
    )


def _load_config(path: str | Path, check_thunk: bool) -> GridSpec:
    """An SLC experiment file as a grid spec (its ``[run]`` options are the defaults)."""
    from slc_tui import slc_config
    from slc_tui.thunks import resolve
    from slc_tui.user_config import default_data_dir

    grid, thunk, where = slc_config.load(path)
    if check_thunk:
        resolve(thunk)
    data_dir = os.fspath(where["data_dir"] or default_data_dir())
    return GridSpec(
        path=Path(os.path.abspath(os.path.expanduser(path))),
        name=grid.grid_name,
        thunk=thunk,
        num_cpu=where["num_cpu"],
        gpus_per_run=0.0,
        data_dir=Path(os.path.abspath(os.path.expanduser(data_dir))),
        datestamp=bool(where["datestamp"]),
        grid=grid,
        options=RunOptions(),
        shown_path=str(path),
    )


def load_grids(paths: Iterable[str | Path], *, check_thunk: bool = True) -> list[GridSpec]:
    """Load several grid files; two with the same name and data directory are an error.

    Raises:
        GridFileError: the first problem found, in the order of ``paths``.
    """
    specs: list[GridSpec] = []
    for path in paths:
        spec = load_grid(path, check_thunk=check_thunk)
        for other in specs:
            if other.path == spec.path:
                raise GridFileError(
                    f"{spec.shown_path}: the grid file is given twice (also as {other.shown_path})",
                    spec.path,
                )
            if other.name == spec.name and other.data_dir == spec.data_dir:
                raise spec.error(
                    "grid.name",
                    f"{toml_repr(spec.name)} is also the name of {other.shown_path} with the same "
                    f"data_dir {spec.data_dir}; give one of them another name or data_dir, "
                    "so that their ledgers and run folders stay apart",
                )
        specs.append(spec)
    return specs
