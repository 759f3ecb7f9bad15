"""The runs whose results ``compare``, ``plot``, the headless summary and the dashboard weigh:
found from a grid file's ledger, from a sweep's data_dir, or from any folder tree of
SpinningUp-layout runs (no ledger needed).

A folder with a progress file (``progress.txt`` / ``progress.csv``) is a run; its
``config.json`` names its variant (``exp_name``, as SpinningUp's ``plot.py`` groups runs),
its seed and its planned ``epochs``. Runs of one variant differ only by seed. A ledger says
which runs failed; without one, a run that stopped before its planned epochs, or before the
other seeds of its variant, is taken as failed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from slc_tui.engine.ledger import RunRecord
from slc_tui.engine.paths import STATE_DIR
from slc_tui.engine.progress import EPOCH_COLUMNS, find_progress_file, read_progress
from slc_tui.errors import InputError
from slc_tui.states import RunState
from slc_tui.stats import Seed, columns_of

FAILED_STATES = frozenset({RunState.FAILED, RunState.CANCELLED, RunState.LOST})
"""Ledger states whose runs are left out of every statistic."""
Table = tuple[list[str], list[list[Any]]]
"""A progress table as ``engine.progress.read_progress`` gives it."""
Reader = Callable[[str], Table]
"""Reads a run's progress table from its output folder."""
_SEED_SUFFIX = re.compile(r"_s([^_]+)$")


@dataclass
class Run:
    """One run found on disk or in a ledger."""

    grid: str
    variant: str
    name: str
    """Unique within its grid: the folder's name (``exp_name_s{seed}``)."""
    output_dir: str
    state: str = ""
    """Its ledger state; "" when no ledger knows it."""
    reason: str = ""
    planned_epochs: int | None = None
    """The ``epochs`` of its ``config.json``, if any."""


def gather(targets: Sequence[str | os.PathLike[str]]) -> list[Run]:
    """The runs of every target: a grid file or ledger, a sweep's data_dir or any folder
    of runs, or (as SpinningUp's ``plot.py``) a path whose last part is part of folder
    names beside it (``data/cartpole`` for ``data/cartpole-cem_pop8``...).

    Raises:
        InputError: a target that is none of these, or a grid file whose sweep never ran.
    """
    runs: list[Run] = []
    for target in targets:
        path = Path(target)
        if path.is_file():
            runs.extend(from_ledger(path))
        elif path.is_dir():
            runs.extend(from_folder(path))
        else:
            parent = path.parent
            names = (
                sorted(p for p in os.listdir(parent) if path.name in p) if parent.is_dir() else []
            )
            if not names:
                raise InputError(f"{target}: no such grid file, ledger or folder of runs")
            for name in names:
                runs.extend(from_folder(parent / name) if (parent / name).is_dir() else [])
    seen: set[str] = set()
    unique = []
    for run in runs:
        real = os.path.realpath(run.output_dir)
        if real not in seen:
            seen.add(real)
            unique.append(run)
    return unique


def from_records(records: Iterable[RunRecord], folders: dict[str, str] | None = None) -> list[Run]:
    """Runs as a ledger holds them; ``folders`` (run name -> folder found on disk) stands in
    for output folders that moved (a data_dir copied elsewhere)."""
    runs = []
    for r in records:
        out = r.output_dir
        if folders and r.name in folders and not os.path.isdir(out):
            out = folders[r.name]
        epochs = r.params.get("epochs")
        planned = epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None
        runs.append(Run(r.grid, r.variant, r.name, out, str(r.state), r.reason, planned))
    return runs


def from_ledger(path: Path, folders: dict[str, str] | None = None) -> list[Run]:
    """The runs of a grid file's (or a ledger file's) sweep.

    Raises:
        InputError: no sweep of that grid has run, or the file is no ledger (one line).
    """
    from slc_tui.sweep.lifecycle import SweepHandle

    state = SweepHandle.find(path).state()
    try:
        records = state.records()
    finally:
        state.close()
    return from_records(records, folders)


def from_folder(root: Path) -> list[Run]:
    """Every run under ``root``: those its sweeps' ledgers (``root/.slc-tui``) know, with
    their states, then every other folder with a progress file."""
    found = {}
    for folder, dirs, _ in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if find_progress_file(folder) is not None:
            found[folder] = _folder_run(Path(folder))
    runs: list[Run] = []
    ledgers = sorted((root / STATE_DIR).glob("*.db")) if (root / STATE_DIR).is_dir() else []
    by_name = {os.path.basename(f): f for f in found}
    for ledger in ledgers:
        try:
            runs.extend(from_ledger(ledger, by_name))
        except InputError:
            continue  # a ledger that cannot be read: its runs count as plain folders
    known = {os.path.realpath(r.output_dir) for r in runs}
    runs.extend(run for f, run in found.items() if os.path.realpath(f) not in known)
    return runs


def _folder_run(folder: Path) -> Run:
    """A run from its folder and its ``config.json`` (when there is one)."""
    config: dict[str, Any] = {}
    try:
        loaded = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        config = loaded if isinstance(loaded, dict) else {}
    except (OSError, ValueError):
        pass
    name = folder.name
    variant = str(config.get("exp_name") or "")
    if not variant:
        match = _SEED_SUFFIX.search(name)
        variant = name[: match.start()] if match else folder.parent.name
    epochs = config.get("epochs")
    planned = epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None
    grid = folder.resolve().parent.parent.name  # data_dir/exp_name/run: the data_dir
    return Run(grid, variant, name, str(folder), planned_epochs=planned)


def seeds_of(
    runs: Sequence[Run], reader: Reader = read_progress
) -> dict[tuple[str, str], list[Seed]]:
    """Each variant's seeds, by (grid, variant) in the order first met, with their tables."""
    groups: dict[tuple[str, str], list[Seed]] = {}
    for run in runs:
        names, rows = reader(run.output_dir) if run.state != RunState.PENDING else ([], [])
        columns = columns_of(names, rows)
        epochs = next((columns[c] for c in EPOCH_COLUMNS if c in columns), None)
        if epochs is None or not np.isfinite(epochs).all():
            epochs = np.arange(1.0, len(rows) + 1.0)
        failed = ""
        if run.state in FAILED_STATES:
            failed = f"{run.state}" + (f": {run.reason}" if run.reason else "")
        seed = Seed(run.name, columns, epochs, failed, run.state == RunState.RUNNING)
        groups.setdefault((run.grid, run.variant), []).append(seed)
    planned = {(r.grid, r.variant): r.planned_epochs for r in runs if not r.state}
    for key, plan in planned.items():
        groups[key] = _short_ones_failed(groups[key], plan)
    return groups


def _short_ones_failed(seeds: list[Seed], planned: int | None) -> list[Seed]:
    """Seeds (of runs no ledger knows) that stopped early, marked failed: short of their
    planned epochs when some seed reached them, else short of the longest seed."""
    rows = [len(s.epochs) for s in seeds]
    if not rows:
        return seeds
    target = planned if planned is not None and max(rows) >= planned else max(rows)
    out = []
    for seed, n in zip(seeds, rows):
        if n < target and not seed.failed:
            last = f"epoch {seed.epochs[-1]:g}" if n else "no epoch"
            seed = replace(seed, failed=f"stopped early ({last}, {n} of {target} rows)")
        out.append(seed)
    return out


def metric_columns(groups: dict[tuple[str, str], list[Seed]]) -> list[str]:
    """Every column of the seeds' tables, in the order first met, epoch columns left out."""
    names: dict[str, None] = {}
    for seeds in groups.values():
        for seed in seeds:
            names.update((c, None) for c in seed.columns if c not in EPOCH_COLUMNS)
    return list(names)


def selected(
    runs: Sequence[Run], select: Sequence[str] = (), exclude: Sequence[str] = ()
) -> list[Run]:
    """The runs whose variant names hold every ``select`` text and no ``exclude`` text (the
    rules of SpinningUp's ``plot.py --select / --exclude``, on variant names)."""
    return [r for r in runs if all(s in r.variant for s in select)
            and not any(s in r.variant for s in exclude)]  # fmt: skip
