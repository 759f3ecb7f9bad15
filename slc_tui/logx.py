"""``Logger`` and ``EpochLogger`` with the reference API (SpinningUp / stable-learning-control).

Only rank 0 writes: ``config.json`` (:meth:`Logger.save_config`) and a tab-separated
``progress.txt`` (a header line of column names, then one row per :meth:`Logger.dump_tabular`),
flushed after every row so that the dashboard can tail it. Each row is also printed to stdout,
as one line (``verbose_fmt="line"``, the default) or as the reference's table (``"table"``).
No torch or tensorflow: :meth:`Logger.save_state` pickles a state dict of plain objects.
"""

from __future__ import annotations

import atexit
import json
import os
import pickle
import sys
import time
from typing import IO, Any

import numpy as np

from slc_tui.mpi_tools import mpi_statistics_scalar, proc_id
from slc_tui.serialization import convert_json

_COLORS = {"gray": 30, "red": 31, "green": 32, "yellow": 33, "blue": 34, "magenta": 35}
_COLORS.update(cyan=36, white=37, crimson=38)


def colorize(string: str, color: str, bold: bool = False, highlight: bool = False) -> str:
    """Wrap ``string`` in ANSI color codes when stdout is a terminal (plain text otherwise)."""
    if not sys.stdout.isatty() or color not in _COLORS:
        return string
    attr = [str(_COLORS[color] + (10 if highlight else 0))]
    if bold:
        attr.append("1")
    return f"\x1b[{';'.join(attr)}m{string}\x1b[0m"


def _fmt(val: Any, width: int = 0) -> str:
    """A short display form of a logged value (integers exact, floats to 4 digits)."""
    if isinstance(val, (bool, np.bool_)) or not hasattr(val, "__float__"):
        return str(val).rjust(width)
    if isinstance(val, (int, np.integer)) or (float(val).is_integer() and abs(val) < 1e7):
        return str(int(val)).rjust(width)
    return f"{float(val):{width}.4g}"


class Logger:
    """A general-purpose logger of diagnostics and configurations (rank 0 writes)."""

    def __init__(
        self,
        output_dir: str | None = None,
        output_fname: str = "progress.txt",
        exp_name: str | None = None,
        quiet: bool = False,
        verbose_fmt: str = "line",
        verbose_vars: list[str] | None = None,
        **_ignored: Any,
    ) -> None:
        """Open ``output_dir/output_fname`` for writing (rank 0 only).

        Args:
            output_dir: Directory for the results (default ``/tmp/experiments/<time>``).
            output_fname: Name of the tab-separated progress file.
            exp_name: Experiment name, stored in ``config.json``.
            quiet: Do not print the diagnostics to stdout.
            verbose_fmt: ``"line"`` (one line per row) or ``"table"`` (the reference's table).
            verbose_vars: Only print these keys (all when empty); the file has every key.
            **_ignored: Other keys of stable-learning-control's ``setup_logger_kwargs``
                (TensorBoard, Weights & Biases, ...), accepted and ignored.
        """
        self.exp_name = exp_name
        """Experiment name (several seeds of one configuration share it)."""
        self.quiet = quiet
        self.verbose_table = verbose_fmt.lower() not in ("line",)
        self.verbose_vars = list(verbose_vars or [])
        self.output_dir: str | None = None
        """Where results go; None on ranks other than 0."""
        self.output_file: IO[str] | None = None
        """The open progress file; None on ranks other than 0."""
        if proc_id() == 0:
            self.output_dir = output_dir or f"/tmp/experiments/{int(time.time())}"
            if os.path.exists(self.output_dir):
                warning = f"Log dir {self.output_dir} already exists! Storing info there anyway."
                print(f"Warning: {warning}", flush=True)  # the reference's words, uncoloured
            else:
                os.makedirs(self.output_dir)
            self.output_file = open(  # noqa: SIM115 - kept open for the run, closed at exit
                os.path.join(self.output_dir, output_fname), "w", encoding="utf-8"
            )
            atexit.register(self.output_file.close)
            self.log(f"Logging data to {self.output_file.name}")
        self.first_row = True
        self.log_headers: list[str] = []
        self.log_current_row: dict[str, Any] = {}

    def log(self, msg: str, color: str = "green") -> None:
        """Print a (colorized) message to stdout, on rank 0."""
        if proc_id() == 0:
            print(colorize(msg, color, bold=True), flush=True)

    def log_tabular(self, key: str, val: Any) -> None:
        """Set the value of diagnostic ``key`` for the current row (once per row)."""
        if self.first_row:
            if key not in self.log_headers:
                self.log_headers.append(key)
        elif key not in self.log_headers:
            raise KeyError(f"Trying to introduce a new key {key} after the first row")
        if key in self.log_current_row:
            raise KeyError(f"You already set {key} this row. Did you forget dump_tabular()?")
        self.log_current_row[key] = val

    def save_config(self, config: dict[str, Any]) -> None:
        """Write ``config`` (made JSON-safe) to ``config.json``; usually ``locals()``."""
        config_json = convert_json(config)
        if self.exp_name is not None:
            config_json["exp_name"] = self.exp_name
        if proc_id() == 0 and self.output_dir is not None:
            output = json.dumps(config_json, separators=(",", ":\t"), indent=4, sort_keys=True)
            if not self.quiet:
                print(colorize("Saving config:\n", color="cyan", bold=True))
                print(output, flush=True)
            with open(os.path.join(self.output_dir, "config.json"), "w", encoding="utf-8") as f:
                f.write(output)

    def save_state(self, state_dict: dict[str, Any], itr: int | None = None) -> None:
        """Pickle ``state_dict`` (numpy arrays and plain objects) to ``vars[itr].pkl``."""
        if proc_id() != 0 or self.output_dir is None:
            return
        fname = "vars.pkl" if itr is None else f"vars{itr}.pkl"
        try:
            with open(os.path.join(self.output_dir, fname), "wb") as f:
                pickle.dump(state_dict, f, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError):
            self.log("Warning: could not pickle state_dict.", color="red")

    def _print_row(self, vals: list[Any]) -> None:
        keys = self.log_headers
        if self.verbose_vars:
            shown = [k for k in ("Epoch", "TotalEnvInteracts") if k not in self.verbose_vars]
            keep = set(shown + self.verbose_vars)
            pairs = [(k, v) for k, v in zip(keys, vals) if k in keep]
        else:
            pairs = list(zip(keys, vals))
        if not self.verbose_table:
            print(" | ".join(f"{k} {_fmt(v)}" for k, v in pairs), flush=True)
            return
        key_len = max(15, *(len(k) for k, _ in pairs))
        rule = "-" * (key_len + 22)
        lines = [rule, *(f"| {k:>{key_len}} | {_fmt(v, 15)} |" for k, v in pairs), rule]
        print("\n".join(lines), flush=True)

    def dump_tabular(self) -> None:
        """Write the current row to ``progress.txt`` (flushed) and print it, on rank 0."""
        if proc_id() == 0:
            vals = [self.log_current_row.get(key, "") for key in self.log_headers]
            if not self.quiet and self.log_headers:
                self._print_row(vals)
            if self.output_file is not None:
                if self.first_row:
                    self.output_file.write("\t".join(self.log_headers) + "\n")
                self.output_file.write("\t".join(map(str, vals)) + "\n")
                self.output_file.flush()
        self.log_current_row.clear()
        self.first_row = False


class EpochLogger(Logger):
    """A Logger that collects values during an epoch and logs their statistics over all ranks.

    Call ``store(Key=value)`` as often as needed during an epoch, then
    ``log_tabular("Key", with_min_and_max=..., average_only=...)`` at its end.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Same arguments as :class:`Logger`."""
        super().__init__(*args, **kwargs)
        self.epoch_dict: dict[str, list[Any]] = {}
        """Values stored since the key was last logged."""

    def store(self, **kwargs: Any) -> None:
        """Append numerical values (scalars or arrays) to the current epoch's lists."""
        for k, v in kwargs.items():
            self.epoch_dict.setdefault(k, []).append(v)

    def _values(self, key: str) -> Any:
        v = self.epoch_dict.get(key, [])
        if v and isinstance(v[0], np.ndarray) and v[0].ndim > 0:
            return np.concatenate(v)
        return v

    def log_tabular(  # type: ignore[override]
        self,
        key: str,
        val: Any = None,
        with_min_and_max: bool = False,
        average_only: bool = False,
    ) -> None:
        """Log ``val``, or the mean (``Average<key>``), std, max and min of stored values.

        Args:
            key: Name of the diagnostic; without ``val``, the key used with :meth:`store`.
            val: A value to log as it is (do not pass one for a stored key).
            with_min_and_max: Also log ``Max<key>`` and ``Min<key>``.
            average_only: Log only the mean, under the name ``key`` itself.
        """
        if val is not None:
            super().log_tabular(key, val)
        else:
            stats = mpi_statistics_scalar(self._values(key), with_min_and_max=with_min_and_max)
            super().log_tabular(key if average_only else "Average" + key, stats[0])
            if not average_only:
                super().log_tabular("Std" + key, stats[1])
            if with_min_and_max:
                super().log_tabular("Max" + key, stats[3])
                super().log_tabular("Min" + key, stats[2])
        self.epoch_dict[key] = []

    def get_stats(self, key: str) -> tuple[float, ...]:
        """Mean and std of the values stored under ``key``, over all ranks."""
        return mpi_statistics_scalar(self._values(key))
