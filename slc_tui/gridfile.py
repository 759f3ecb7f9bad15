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

import contextlib
import math
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slc_tui.gridfile_lines import (
    GridFileError,
    KeyPath,
    LineMap,
    Problems,
    check_keys,
    closest,
    syntax_location,
)
from slc_tui.options import BACKENDS, RunOptions

if TYPE_CHECKING:
    from slc_tui.grid import ExperimentGrid

__all__ = ["GridFileError", "GridSpec", "load_grid", "load_grids"]

TABLES = ("grid", "params", "run", "slurm")
GRID_KEYS = ("name", "thunk", "num_cpu", "data_dir", "datestamp")
RUN_KEYS = ("max_cpus", "retries", "timeout", "fail_fast", "backend", "oversubscribe", "mpiexec")
OPTION_KEYS = ("values", "shorthand", "in_name")
RESERVED = {
    "num_cpu": "it belongs in [grid] (MPI ranks per run)",
    "data_dir": "it belongs in [grid]",
    "datestamp": "it belongs in [grid]",
    "thunk": "it belongs in [grid]",
    "exp_name": "run names come from [grid] name and the parameters that vary",
    "logger_kwargs": "each run gets its own, with its output_dir under [grid] data_dir",
}
"""Keys that ``[params]`` may not hold (nor start with), and where they belong instead."""
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


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
    data_dir: Path
    """``[grid] data_dir``, absolute."""
    datestamp: bool
    """Whether output folders get a date and time stamp."""
    grid: ExperimentGrid
    """The ``[params]`` table, added key by key in file order."""
    options: RunOptions
    """The ``[run]`` table, plus the raw ``[slurm]`` table."""
    line_of: dict[str, int] = field(default_factory=dict)
    """The line of each table and key found in the file: ``"params.pop_size" -> 9``."""
    shown_path: str = ""
    """The path as the user gave it, for messages."""

    def error(self, key: str, problem: str) -> GridFileError:
        """A ``GridFileError`` about ``key`` (``"params.pop_size"``) of this file, with its line."""
        shown = self.shown_path or str(self.path)
        return Problems(self.path, shown).error_at(
            tuple(key.split(".", 1)), problem, self.line_of.get(key)
        )


def _show(value: Any) -> str:
    """``value`` as it looks in TOML (``"four"``, ``true``), for messages."""
    import json

    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _text(p: Problems, key: KeyPath, value: Any) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise p.error(key, f"{_show(value)} is not a non-empty string; write it in quotes")
    return value


def _flag(p: Problems, key: KeyPath, value: Any) -> bool:
    """A boolean."""
    if not isinstance(value, bool):
        raise p.error(key, f"{_show(value)} is not a boolean; write true or false, without quotes")
    return value


def _cpus(p: Problems, key: KeyPath, value: Any) -> int | str:
    """A CPU count: an int >= 1 or ``"auto"``."""
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value  # type: ignore[no-any-return]
    raise p.error(key, f'{_show(value)} is not a CPU count; give a whole number >= 1 or "auto"')


def _number(p: Problems, key: KeyPath, value: Any, integer: bool) -> float:
    """A finite number >= 0 (an int when ``integer``)."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, kinds) and not isinstance(value, bool) and 0 <= value < float("inf"):
        return value
    want = "a whole number >= 0" if integer else "a number of seconds >= 0 (0 means no limit)"
    raise p.error(key, f"{_show(value)} is not allowed here; give {want}")


def _values(p: Problems, key: KeyPath, value: Any) -> Any:
    """A parameter's values: an array is several values, anything else one value."""
    if isinstance(value, list) and not value:
        raise p.error(key, "an empty list of values; give at least one value")
    if isinstance(value, dict):
        raise p.error(key, "a table is not a value; write dict-valued parameters with 'a:b' keys")
    return value


def _option_form(p: Problems, key: KeyPath, table: dict[str, Any]) -> tuple[Any, str | None, bool]:
    """The ``{ values = ..., shorthand = "...", in_name = bool }`` form of a parameter."""
    for sub in table:
        if sub in OPTION_KEYS:
            continue
        if "values" not in table:
            raise p.error(
                (*key, sub),
                "a table under [params] is the option form { values = ..., shorthand = ..., "
                f"in_name = ... }}, which has no key {sub!r}; write a dict-valued parameter as "
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
            (*key, "shorthand"), f"{_show(shorthand)} is not a string; write it in quotes"
        )
    in_name = _flag(p, (*key, "in_name"), table.get("in_name", False))
    return _values(p, (*key, "values"), table["values"]), shorthand, in_name


def _params(p: Problems, params: dict[str, Any]) -> list[tuple[str, Any, str | None, bool]]:
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
            out.append((key, *_option_form(p, at, value)))
        else:
            out.append((key, _values(p, at, value), None, False))
    return out


def _tomllib() -> Any:
    """The TOML parser, imported only when a file is loaded (it costs about 28 ms)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python < 3.11
        import tomli as tomllib
    return tomllib


def _read(path: Path, shown: str) -> tuple[str, dict[str, Any]]:
    """The text and the parsed document of a grid file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise GridFileError(f"{shown}: no such grid file", path) from None
    except IsADirectoryError:
        raise GridFileError(f"{shown}: is a directory, not a grid file", path) from None
    except OSError as exc:
        raise GridFileError(f"{shown}: cannot read the grid file: {exc.strerror}", path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = raw[: exc.start].count(b"\n") + 1
        raise GridFileError(f"{shown}:{bad}: not UTF-8 text", path, line=bad) from None
    tomllib = _tomllib()
    try:
        return text, tomllib.loads(text)  # type: ignore[no-any-return]
    except tomllib.TOMLDecodeError as exc:
        reason, line, col = syntax_location(str(exc), text)
        if reason.startswith("Cannot overwrite a value"):
            reason += " (a key is given twice)"
        at = f":{line}" if line else ""
        at += f":{col}" if line and col else ""
        raise GridFileError(f"{shown}{at}: TOML syntax error: {reason}", path, line=line) from None


@contextlib.contextmanager
def _no_bytecode() -> Iterator[None]:
    """Import without writing ``__pycache__`` (loading a grid creates nothing on disk)."""
    before = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        yield
    finally:
        sys.dont_write_bytecode = before


def _thunk(p: Problems, ref: Any, grid_dir: Path, check: bool) -> str:
    """The resolved thunk reference; imported and checked to be callable when ``check``."""
    from slc_tui.thunks import ThunkError, is_file_ref, resolve

    key = ("grid", "thunk")
    ref = _text(p, key, ref)
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
            with _no_bytecode():
                resolve(ref)
        except ThunkError as exc:
            raise p.error(key, str(exc)) from None
    return ref


def _grid_name(p: Problems, value: Any) -> str:
    """``[grid] name``, which must be safe as a file name."""
    name = _text(p, ("grid", "name"), value)
    if set(name) - _NAME_CHARS or name[0] in ".-" or len(name) > 200:
        raise p.error(
            ("grid", "name"),
            f"{_show(name)} cannot serve as a file name; use letters, digits, '_', '-' and '.' "
            "(not first), at most 200 characters",
        )
    return name


def _slurm_table(p: Problems, slurm: dict[str, Any]) -> dict[str, Any]:
    """The ``[slurm]`` table as the Slurm backend checks it; its errors name file and line."""
    if not slurm:
        return {}
    import re

    from slc_tui.slurm_conf import SlurmConfigError, validate_slurm_table

    try:
        return validate_slurm_table(slurm)
    except SlurmConfigError as exc:
        text = str(exc)
        named = re.match(r"\[slurm\] (?:has an unknown key '([^']+)'|(\w+))", text)
        key = (named.group(1) or named.group(2)) if named else None
        at = ("slurm", key) if key in slurm else ("slurm",)
        raise p.error(at, text, where="") from None


def _run_options(p: Problems, run: dict[str, Any], slurm: dict[str, Any]) -> RunOptions:
    """The ``[run]`` table as ``RunOptions``, with the ``[slurm]`` table checked and attached."""
    kw: dict[str, Any] = {"slurm": _slurm_table(p, slurm)}
    for key, value in run.items():
        at = ("run", key)
        if key == "max_cpus":
            kw[key] = _cpus(p, at, value)
        elif key == "retries":
            kw[key] = int(_number(p, at, value, integer=True))
        elif key == "timeout":
            kw[key] = _number(p, at, value, integer=False)
        elif key == "backend":
            if value not in BACKENDS:
                raise p.error(
                    at, f"{_show(value)} is not a backend; use one of {', '.join(BACKENDS)}"
                )
            kw[key] = value
        elif key == "mpiexec":
            kw[key] = _text(p, at, value)
        else:
            kw[key] = _flag(p, at, value)
    return RunOptions(**kw)


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
        path: the TOML grid file.
        check_thunk: import the thunk and check that it is callable.

    Raises:
        GridFileError: anything wrong with the file, as one sentence with file, key and line.
    """
    from slc_tui.grid import ExperimentGrid

    shown = str(path)
    abs_path = Path(os.path.abspath(os.path.expanduser(path)))
    text, doc = _read(abs_path, shown)
    lines = LineMap(text)
    p = Problems(abs_path, shown, lines)
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
    num_cpu = _cpus(p, ("grid", "num_cpu"), grid_t.get("num_cpu", 1))
    data_dir = _text(p, ("grid", "data_dir"), grid_t.get("data_dir", "data"))
    datestamp = _flag(p, ("grid", "datestamp"), grid_t.get("datestamp", False))
    options = _run_options(p, run_t, slurm_t)
    grid = ExperimentGrid(name)
    for key, vals, shorthand, in_name in _params(p, params_t):
        try:
            grid.add(key, vals, shorthand=shorthand, in_name=in_name)
        except (TypeError, ValueError) as exc:
            raise p.error(("params", key), str(exc)) from None
    return GridSpec(
        path=abs_path,
        name=name,
        thunk=thunk,
        num_cpu=num_cpu,
        data_dir=Path(os.path.abspath(os.path.expanduser(data_dir))),
        datestamp=datestamp,
        grid=grid,
        options=options,
        line_of=lines.as_dict(),
        shown_path=shown,
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
                    f"{_show(spec.name)} is also the name of {other.shown_path} with the same "
                    f"data_dir {spec.data_dir}; give one of them another name or data_dir, "
                    "so that their ledgers and run folders stay apart",
                )
        specs.append(spec)
    return specs
