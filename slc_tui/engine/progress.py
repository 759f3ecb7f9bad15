"""Read a run's progress file (``progress.txt`` tab-separated, or ``progress.csv``) as it grows."""

from __future__ import annotations

import os
from collections.abc import Iterable
from itertools import islice
from pathlib import Path
from typing import Union

Value = Union[float, str]
PROGRESS_FILES = ("progress.txt", "progress.csv")
"""Names a run's progress file may have, in the order they are looked for."""
RETURN_LIKE = ("AverageEpRet", "AverageTestEpRet", "EpRet", "AverageReturn", "Return", "reward")
"""Columns taken as a run's main metric, best first."""
EPOCH_COLUMNS = ("Epoch", "epoch", "Iteration", "iteration", "Step", "step")


def find_progress_file(output_dir: str | os.PathLike[str]) -> Path | None:
    """The progress file in ``output_dir``, or None when the run has not written one yet."""
    for name in PROGRESS_FILES:
        path = Path(output_dir) / name
        if path.exists():
            return path
    return None


def progress_kind(output_dir: str | os.PathLike[str]) -> str | None:
    """The name of the progress file a run writes (``progress.csv``...), from its folder:
    the file itself or an earlier attempt's (``progress.1.csv``); None when there is none."""
    try:
        names = os.listdir(output_dir)
    except OSError:
        return None
    for name in PROGRESS_FILES:
        stem, ext = name.split(".")
        if name in names or any(_is_attempt(n, stem, ext) for n in names):
            return name
    return None


def progress_kind_of(output_dirs: Iterable[str], most: int = 1000) -> str | None:
    """The progress file that runs write, from the first of their first ``most`` folders
    (``output_dirs``) that has one (:func:`progress_kind`)."""
    for output_dir in islice(output_dirs, most):
        name = progress_kind(output_dir)
        if name:
            return name
    return None


def _is_attempt(name: str, stem: str, ext: str) -> bool:
    """Whether ``name`` is ``STEM.N.EXT`` (an earlier attempt's file)."""
    parts = name.split(".")
    return len(parts) == 3 and parts[0] == stem and parts[2] == ext and parts[1].isdigit()


def _parse(text: str) -> Value:
    try:
        return float(text)
    except ValueError:
        return text


def _split(line: str, sep: str) -> list[str]:
    return [cell.strip() for cell in line.rstrip("\r\n").split(sep)]


def read_progress(output_dir: str | os.PathLike[str]) -> tuple[list[str], list[list[Value]]]:
    """The whole progress table: column names and rows (numbers as floats)."""
    path = find_progress_file(output_dir)
    if path is None:
        return [], []
    sep = "," if path.suffix == ".csv" else "\t"
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = [ln for ln in f.read().split("\n") if ln.strip()]
    if not lines:
        return [], []
    columns = _split(lines[0], sep)
    rows = [[_parse(c) for c in _split(ln, sep)] for ln in lines[1:]]
    return columns, [r for r in rows if len(r) == len(columns)]


def main_metric(columns: list[str]) -> str | None:
    """The return-like column of a progress table (``AverageEpRet`` first), if any."""
    for name in RETURN_LIKE:
        if name in columns:
            return name
    numeric = [c for c in columns if c not in EPOCH_COLUMNS]
    return numeric[0] if numeric else None


def epoch_of(row: dict[str, Value], count: int) -> int:
    """The epoch number of a row (its ``Epoch`` column, else its 1-based position)."""
    for name in EPOCH_COLUMNS:
        value = row.get(name)
        if isinstance(value, float):
            return int(value)
    return count


class ProgressTail:
    """Follows one progress file, reading only what was appended since the last poll."""

    def __init__(self, output_dir: str | os.PathLike[str]) -> None:
        self.output_dir = Path(output_dir)
        """The run's output directory."""
        self.columns: list[str] = []
        """Column names, once the header was read."""
        self.rows = 0
        """Complete rows read so far."""
        self._path: Path | None = None
        self._offset = 0
        self._partial = ""
        self._sep = "\t"

    def poll(self) -> dict[str, Value] | None:
        """The newest complete row when rows were appended since the last poll, else None."""
        rows = self.poll_rows()
        return rows[-1] if rows else None

    def poll_rows(self) -> list[dict[str, Value]]:
        """Every complete row appended since the last poll, oldest first (the ``n``-th of
        them is row ``self.rows - len(rows) + n`` of the file, counting from 1)."""
        if self._path is None:
            self._path = find_progress_file(self.output_dir)
            if self._path is None:
                return []
            self._sep = "," if self._path.suffix == ".csv" else "\t"
        try:
            size = self._path.stat().st_size
        except OSError:
            return []
        if size < self._offset:  # the file was rewritten: start over
            self._offset, self._partial, self.columns, self.rows = 0, "", [], 0
        if size == self._offset:
            return []
        with open(self._path, "rb") as f:
            f.seek(self._offset)
            chunk = f.read(size - self._offset)
        self._offset = size
        text = self._partial + chunk.decode("utf-8", errors="replace")
        lines = text.split("\n")
        self._partial = lines.pop()
        out: list[dict[str, Value]] = []
        for line in lines:
            if not line.strip():
                continue
            cells = _split(line, self._sep)
            if not self.columns:
                self.columns = cells
                continue
            if len(cells) != len(self.columns):
                continue
            self.rows += 1
            out.append({c: _parse(v) for c, v in zip(self.columns, cells)})
        return out

    def latest(self) -> tuple[int, dict[str, float]] | None:
        """The epoch and the numeric metrics of the newest row, when rows were appended."""
        row = self.poll()
        if row is None:
            return None
        return epoch_of(row, self.rows), {k: v for k, v in row.items() if isinstance(v, float)}
