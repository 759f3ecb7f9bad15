"""One experiment, as the reference runs it: ``setup_logger_kwargs`` and ``call_experiment``.

``call_experiment`` runs one thunk in a fresh subprocess (MPI ranks for ``num_cpu > 1``).
The caller's values are never mutated; the payload never shows in an error. Heavy imports
(cloudpickle) are deferred, so importing this module stays cheap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any, Callable

from slc_tui import user_config
from slc_tui.cpus import resolve_num_cpu
from slc_tui.errors import SlcError
from slc_tui.serialization import convert_json, seed_str

DIV_LINE_WIDTH = 80
"""Width of the reference's ``=`` divider lines."""

RESERVED_KEYS = frozenset({"num_cpu", "data_dir", "datestamp", "exp_name", "thunk"})
"""Parameters of ``call_experiment`` itself; a grid key may not be (or start with) one."""

OWN_LOGGER_KEYS = ("output_dir", "exp_name")
"""``logger_kwargs`` keys each run gets from the planner, never from the grid."""


def logger_kwargs_problem(key: str, vals: list[Any]) -> str | None:
    """What is wrong with a ``logger_kwargs`` key and its values, or None (also for any other
    key): its ``output_dir`` and ``exp_name`` are each run's own, and it holds dicts."""
    parts = key.split(":")
    if parts[0] != "logger_kwargs":
        return None
    own = [parts[1]] if len(parts) > 1 else []
    for value in [] if own else vals:
        if not isinstance(value, dict):
            return (
                f"logger_kwargs takes dicts, not {value!r}; or set one key of it "
                "as 'logger_kwargs:KEY'"
            )
        own += list(value)
    for name in OWN_LOGGER_KEYS:
        if name in own:
            return (
                f"slc-tui sets each run's logger_kwargs {name} itself (the run's folder under "
                "the data directory, named after its variant); leave it out"
            )
    return None


_COLORS = {
    "gray": 30,
    "red": 31,
    "green": 32,
    "yellow": 33,
    "blue": 34,
    "magenta": 35,
    "cyan": 36,
    "white": 37,
    "crimson": 38,
}


def colorize(text: str, color: str, bold: bool = False, highlight: bool = False) -> str:
    """``text`` in an ANSI colour (as gymnasium's ``colorize``) when stdout is a terminal."""
    isatty = getattr(sys.stdout, "isatty", None)
    if not color or os.environ.get("NO_COLOR") is not None or not (isatty and isatty()):
        return text
    attrs = [str(_COLORS[color] + (10 if highlight else 0))] + (["1"] if bold else [])
    return f"\x1b[{';'.join(attrs)}m{text}\x1b[0m"


def date_stamps(datestamp: bool) -> tuple[str, str]:
    """The prefixes of a datestamped experiment folder and run folder, taken now (``("",
    "")`` without ``datestamp`` and without ``user_config.FORCE_DATESTAMP``)."""
    if not (datestamp or user_config.FORCE_DATESTAMP):
        return "", ""
    now = time.localtime()
    return time.strftime("%Y-%m-%d_", now), time.strftime("%Y-%m-%d_%H-%M-%S-", now)


def run_folder(exp_name: str, seed_text: str | None, stamps: tuple[str, str]) -> str:
    """A run's folder below the data directory, as the reference names it:
    ``exp_name/exp_name_s{seed}`` (``exp_name`` without a seed), with ``stamps`` before each."""
    day, full = stamps
    if seed_text is None:
        return day + exp_name
    return os.path.join(day + exp_name, f"{full}{exp_name}_s{seed_text}")


def lies_inside(base: str | os.PathLike[str], path: str | os.PathLike[str]) -> bool:
    """Whether ``path``, resolved (``..`` folded, made absolute), is ``base`` or lies below it."""
    top = os.path.normpath(os.path.abspath(base))
    full = os.path.normpath(os.path.abspath(path))
    return full == top or full.startswith(top.rstrip(os.sep) + os.sep)


def setup_logger_kwargs(
    exp_name: str,
    seed: int | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    datestamp: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """The ``logger_kwargs`` of an experiment: its ``output_dir`` and ``exp_name``.

    ``output_dir`` is ``data_dir/exp_name/exp_name_s{seed}`` (``data_dir/exp_name`` without a
    seed); with ``datestamp`` (or ``user_config.FORCE_DATESTAMP``) it is
    ``data_dir/YYYY-MM-DD_exp_name/YYYY-MM-DD_HH-MM-SS-exp_name_s{seed}``. ``data_dir``
    defaults to ``user_config.DEFAULT_DATA_DIR``, read now. Any other keyword (SLC's
    ``verbose_fmt``, say) is passed through into the dict.

    Raises:
        ValueError: a seed that cannot be part of a folder name (see
            :func:`~slc_tui.serialization.seed_str`), a NUL byte, or an ``exp_name`` that
            would put the folder outside ``data_dir`` (``..``).
    """
    if "output_dir" in extra:
        raise TypeError("setup_logger_kwargs() computes output_dir; it cannot be given")
    seed_text = None if seed is None else seed_str(seed)
    base = os.fspath(data_dir) if data_dir else user_config.default_data_dir()
    output_dir = os.path.join(base, run_folder(exp_name, seed_text, date_stamps(datestamp)))
    if "\0" in output_dir:
        raise ValueError(f"experiment {exp_name!r}: its folder {output_dir!r} has a NUL byte")
    if not lies_inside(base, output_dir):
        raise ValueError(
            f"experiment {exp_name!r}: its folder {output_dir!r} would not lie inside the data "
            f"directory {base!r}; use a plain name"
        )
    return {"output_dir": output_dir, "exp_name": exp_name, **extra}


class ExperimentError(SlcError, subprocess.CalledProcessError):
    """An experiment's subprocess failed (a ``CalledProcessError`` without the payload)."""

    def __init__(self, returncode: int, cmd: Any, exp_name: str = "") -> None:
        subprocess.CalledProcessError.__init__(self, returncode, cmd)
        self.exp_name = exp_name
        """Name of the experiment that failed."""
        how = (
            f"was killed by signal {-returncode}"
            if returncode < 0
            else f"failed with exit status {returncode}"
        )
        self.message = f"experiment {exp_name!r} {how}; its traceback is in the output above"
        self.cli_advice = self.python_advice = ""


_ERROR_MSG = f"""


{"=" * DIV_LINE_WIDTH}


There appears to have been an error in your experiment.

Check the traceback above to see what actually went wrong. The
traceback below, included for completeness (but probably not useful
for diagnosing the error), shows the stack leading up to the
experiment launch.

{"=" * DIV_LINE_WIDTH}


"""


def _end_message(output_dir: str) -> str:
    line = "=" * DIV_LINE_WIDTH
    return (
        f"\n\n\n\n\n{line}\nEnd of experiment.\n\n\n"
        f"Results from this run are in:\n\n{colorize(output_dir, 'green')}\n\n\n"
        "Run a grid of experiments in parallel, with a dashboard, with:\n\n"
        f"{colorize('slc-tui GRID.toml', 'green')}\n\n{line}\n\n\n\n\n"
    )


def _launch(
    thunk: str | Callable[..., Any], kwargs: dict[str, Any], num_cpu: int, exp_name: str
) -> tuple[int, list[str]]:
    """Run ``thunk(**kwargs)`` in a subprocess from a private payload file; (status, argv)."""
    import shutil
    import tempfile

    from slc_tui.launch import run_command, run_env
    from slc_tui.payload import Payload, write_payload

    folder = tempfile.mkdtemp(prefix="slc-tui-payload-")  # mode 0700
    try:
        path = os.path.join(folder, "payload.pkl")
        try:
            write_payload(path, Payload(thunk=thunk, kwargs=kwargs))
        except Exception as exc:  # a pickling error: name the experiment, not the bytes
            raise TypeError(
                f"experiment {exp_name!r}: its thunk or kwargs cannot be pickled for the "
                f"subprocess ({type(exc).__name__}: {exc})"
            ) from exc
        cmd = run_command(path, num_cpu)
        sys.stdout.flush()
        sys.stderr.flush()
        proc = subprocess.run(cmd, env=run_env(num_cpu), stdin=subprocess.DEVNULL, check=False)
        return proc.returncode, cmd
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def call_experiment(
    exp_name: str,
    thunk: str | Callable[..., Any],
    seed: int = 0,
    num_cpu: int | str = 1,
    data_dir: str | os.PathLike[str] | None = None,
    datestamp: bool = False,
    **kwargs: Any,
) -> None:
    """Run ``thunk(**kwargs, seed=seed, logger_kwargs=...)`` in a fresh subprocess.

    As in the reference, ``env_name`` (with optional ``env_kwargs``) becomes an ``env_fn`` that
    makes the gymnasium environment, built in the child; ``num_cpu > 1`` runs the thunk in
    that many MPI ranks. The thunk is a callable (cloudpickled, so lambdas and closures work)
    or a ``"module:function"`` string. A ``logger_kwargs`` argument is merged over the computed
    one. The caller's arguments are not mutated.

    Raises:
        ExperimentError: the subprocess failed (a ``subprocess.CalledProcessError``).
        TypeError: the thunk is not callable, or cannot be pickled with its kwargs.
        ValueError: ``num_cpu`` is neither a positive integer nor ``'auto'``.
    """
    if not (callable(thunk) or isinstance(thunk, str)):
        raise TypeError(f"the thunk of experiment {exp_name!r} must be callable")
    ranks = resolve_num_cpu(num_cpu)
    kwargs = dict(kwargs)
    kwargs["seed"] = seed

    print(colorize("Running experiment:\n", color="cyan", bold=True))
    print(exp_name + "\n")
    print(colorize("with kwargs:\n", color="cyan", bold=True))
    print(json.dumps(convert_json(kwargs), separators=(",", ":\t"), indent=4, sort_keys=True))
    print("\n")

    logger_kwargs = setup_logger_kwargs(exp_name, seed, data_dir, datestamp)
    if "logger_kwargs" in kwargs:
        print("Note: Call experiment is not handling logger_kwargs.\n")
        logger_kwargs.update(kwargs["logger_kwargs"])
    if logger_kwargs.get("verbose_fmt") == "line":  # SLC: a one-line format logs all vars
        logger_kwargs["verbose_vars"] = None
    kwargs["logger_kwargs"] = logger_kwargs

    returncode, cmd = _launch(thunk, kwargs, ranks, exp_name)
    if returncode != 0:
        print(_ERROR_MSG)
        raise ExperimentError(returncode, cmd, exp_name)
    print(_end_message(logger_kwargs["output_dir"]))
