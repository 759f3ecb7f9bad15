"""Where a run's files go, and the checks that keep them inside its grid's data directory.

A run's folder is ``data_dir/[stamp]exp_name/[stamp]exp_name_s{seed}``, its log
``output.log`` in that folder, its payload ``data_dir/.slc-tui/GRID/payloads/NAME.pkl``. The
planner feeds each run to :class:`RunPaths`, which says what is wrong, if anything: two runs
sharing a folder, a path that resolves outside ``data_dir``, a name longer than the file
system allows (NAME_MAX) or a path longer than PATH_MAX. Nothing here writes to the disk.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from slc_tui.serialization import name_problem, seed_str

if TYPE_CHECKING:
    from slc_tui.runs import LazyRuns

STATE_DIR = ".slc-tui"
"""slc-tui's folder inside a data directory (the engine's ``ledger.STATE_DIR``)."""
FILE_ROOM = 16
"""Bytes kept free, below PATH_MAX, for the longest file slc-tui writes in a run folder
(``output.99.log``, ``progress.99.txt``)."""
NAME_MAX, PATH_MAX = 255, 4096
"""The limits where the file system does not say (Linux's)."""


def name_limits(path: str) -> tuple[int, int]:
    """(NAME_MAX, PATH_MAX) of the file system that holds ``path`` (or would: its nearest
    existing parent), or Linux's where it does not say."""
    probe = path
    while not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    limits = []
    for what, default in (("PC_NAME_MAX", NAME_MAX), ("PC_PATH_MAX", PATH_MAX)):
        try:
            limits.append(os.pathconf(probe, what) or default)
        except (OSError, ValueError):
            limits.append(default)
    return limits[0], limits[1]


def has_nul(value: Any) -> bool:
    """Whether a string inside ``value`` (through lists, tuples and dicts) has a NUL byte."""
    if isinstance(value, str):
        return "\0" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(has_nul(v) for v in value)
    return False


def payload_file(data_dir: str, grid: str, name: str) -> str:
    """Where the engine writes the payload of run ``name`` of grid ``grid``."""
    return os.path.join(data_dir, STATE_DIR, grid, "payloads", f"{name}.pkl")


class RunPaths:
    """The paths of one grid's runs, checked one run at a time, in linear time.

    Call :meth:`add` for every run, then :meth:`finish`; each returns a problem (one
    sentence) or None. Only the runs' names are kept (to find two that share a folder).
    """

    def __init__(self, data_dir: str, grid: str, stamps: tuple[str, str]) -> None:
        self.data_dir = data_dir
        self.grid = grid
        self.stamps = stamps
        self.name_max, self.path_max = name_limits(data_dir)
        self.names: set[str] = set()
        self._top = os.path.join(data_dir, "")
        self._payloads = os.path.join(os.path.dirname(payload_file(data_dir, grid, "x")), "")
        self._longest = {"variant": ("", ""), "name": ("", ""), "dir": ("", "")}

    def start(self) -> str | None:
        """What is wrong with the data directory itself, or None."""
        for part in self.data_dir.split(os.sep):
            if len(os.fsencode(part)) > self.name_max:
                return (
                    f"the data directory {self.data_dir} has a folder name of "
                    f"{len(os.fsencode(part))} bytes; the file system allows {self.name_max}"
                )
        return None

    def add(self, variant: str, name: str, output_dir: str) -> str | None:
        """Take one run; the problem with its paths, or None."""
        if name in self.names:
            return (
                f"variants {name!r} and {name!r} would share the output directory {output_dir}; "
                "give the parameters that differ distinct values or shorthands, or in_name"
            )
        self.names.add(name)
        payload = f"{self._payloads}{name}.pkl"  # payload_file(), without a join per run
        normpath = os.path.normpath
        if not normpath(output_dir).startswith(self._top):
            return f"run {name!r}: {output_dir} would not lie inside the data directory"
        if not normpath(payload).startswith(self._payloads):
            return f"run {name!r}: its payload {payload} would not lie inside the data directory"
        longest = self._longest
        if len(variant) > len(longest["variant"][0]):
            longest["variant"] = (variant, name)
        if len(name) > len(longest["name"][1]):
            longest["name"] = (variant, name)
        if len(output_dir) > len(longest["dir"][0]):
            longest["dir"] = (output_dir, name)
        return None

    def finish(self) -> tuple[str, bool] | None:
        """The problem with the longest names and paths seen, and whether a name (not the
        whole path) is too long; or None."""
        day, full = self.stamps
        limit, room = self.name_max, self.path_max - FILE_ROOM
        extra = len(os.fsencode(self.data_dir)) - len(self.data_dir)  # the data dir's non-ASCII
        variant, _ = self._longest["variant"]
        if len(day + variant) > limit:
            return _too_long(f"the folder name {day + variant}", len(day + variant), limit), True
        _, name = self._longest["name"]
        for what in (f"{full}{name}", f"{name}.pkl"):
            if len(what) > limit:
                return _too_long(f"run {name!r}: the file name {what}", len(what), limit), True
        output_dir, name = self._longest["dir"]
        if len(output_dir) + extra > room:
            size = len(output_dir) + extra
            return _too_long(f"run {name!r}: the folder {output_dir}", size, room, "path"), False
        payload = payload_file(self.data_dir, self.grid, self._longest["name"][1])
        if len(payload) + extra > self.path_max:
            size = len(payload) + extra
            return _too_long(f"the payload {payload}", size, self.path_max, "path"), False
        return None


def _short(text: str) -> str:
    """``text``, cut in the middle when too long to read in a message."""
    return text if len(text) <= 100 else f"{text[:60]}...{text[-30:]}"


def _too_long(what: str, size: int, limit: int, kind: str = "name") -> str:
    what = _short(what)
    return (
        f"{what} is {size} bytes long, more than the file system's {limit} bytes for a "
        f"{kind}; use shorter values, shorthands or in_name = false"
    )


def grid_problem(runs: LazyRuns) -> tuple[str, str | None] | None:
    """What makes the paths of a grid's runs unsafe, and the key to blame (or None), in one
    pass over the runs; None when every run's folder, log and payload are fine."""
    grid = runs.grid
    if problem := name_problem(grid.grid_name, empty=True):
        return f"the name {grid.grid_name!r} {problem}", None
    for key, vals in zip(grid.keys, grid.vals):
        if key.split(":")[0] == "seed" and key != "seed":
            return f"the key {key!r} would make the seed a dict; a seed is one value", key
        for value in vals:
            if has_nul(value):
                return f"[{key}] the value {value!r} has a NUL byte; no value may hold one", key
            if key == "seed" and value is not None:
                try:
                    seed_str(value)
                except ValueError as exc:
                    return str(exc), key
    check = RunPaths(runs.data_dir, grid.grid_name, runs.stamps)
    problem = check.start()
    if problem:
        return problem, "data_dir"
    for row in runs.rows():
        problem = check.add(*row)
        if problem:
            return problem, None
    found = check.finish()
    if not found:
        return None
    if not found[1]:
        return found[0], "data_dir"  # a path too long: the data directory's line, with the path
    longest = [max(map(len, p)) if p else 0 for p in grid.name_parts()]
    return found[0], grid.keys[longest.index(max(longest))] if max(longest) else None
