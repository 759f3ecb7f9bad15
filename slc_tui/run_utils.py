"""A drop-in for ``stable_learning_control.utils.run_utils`` (SpinningUp's ``run_utils``).

``ExperimentGrid`` keeps the reference's naming and variant rules; its ``run`` hands the grid
to the parallel engine. ``call_experiment`` runs one experiment in a fresh subprocess.

Deliberate fixes over the reference: an empty grid, an empty value list, a key given twice,
both ``a`` and ``a:b``, and keys that clash with ``call_experiment``'s own parameters are
``ValueError``s; the caller's values are never mutated; the payload never shows in an error.
Heavy imports (cloudpickle, psutil) are deferred, so importing this module stays cheap.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import os
import string
import subprocess
import sys
import time
from typing import Any, Callable

from slc_tui import user_config
from slc_tui.serialization import all_bools, convert_json, valid_str

__all__ = [
    "DIV_LINE_WIDTH",
    "RESERVED_KEYS",
    "ExperimentError",
    "ExperimentGrid",
    "call_experiment",
    "colorize",
    "default_shorthand",
    "resolve_num_cpu",
    "setup_logger_kwargs",
]

DIV_LINE_WIDTH = 80
"""Width of the reference's ``=`` divider lines."""

RESERVED_KEYS = frozenset({"num_cpu", "data_dir", "datestamp", "exp_name", "thunk"})
"""Parameters of ``call_experiment`` itself; a grid key may not be (or start with) one."""

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
_SHORTHAND_CHARS = frozenset(string.ascii_letters + string.digits)


def colorize(text: str, color: str, bold: bool = False, highlight: bool = False) -> str:
    """``text`` in an ANSI colour (as gymnasium's ``colorize``) when stdout is a terminal."""
    isatty = getattr(sys.stdout, "isatty", None)
    if not color or os.environ.get("NO_COLOR") is not None or not (isatty and isatty()):
        return text
    attrs = [str(_COLORS[color] + (10 if highlight else 0))] + (["1"] if bold else [])
    return f"\x1b[{';'.join(attrs)}m{text}\x1b[0m"


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
    """
    if "output_dir" in extra:
        raise TypeError("setup_logger_kwargs() computes output_dir; it cannot be given")
    datestamp = datestamp or user_config.FORCE_DATESTAMP
    now = time.localtime()
    relpath = (time.strftime("%Y-%m-%d_", now) if datestamp else "") + exp_name
    if seed is not None:
        stamp = time.strftime("%Y-%m-%d_%H-%M-%S-", now) if datestamp else ""
        relpath = os.path.join(relpath, f"{stamp}{exp_name}_s{seed}")
    base = os.fspath(data_dir) if data_dir else user_config.default_data_dir()
    return {"output_dir": os.path.join(base, relpath), "exp_name": exp_name, **extra}


def resolve_num_cpu(num_cpu: int | str) -> int:
    """The number of MPI ranks: ``num_cpu`` itself, or for ``'auto'`` the physical cores
    (psutil), falling back to the logical ones.

    Raises:
        ValueError: ``num_cpu`` is neither a positive integer nor ``'auto'``.
    """
    if num_cpu == "auto":
        import psutil  # deferred: ~45 ms

        return psutil.cpu_count(logical=False) or psutil.cpu_count(logical=True) or 1
    if isinstance(num_cpu, bool) or not isinstance(num_cpu, int) or num_cpu < 1:
        raise ValueError(f"num_cpu must be a positive integer or 'auto', not {num_cpu!r}")
    return num_cpu


class ExperimentError(subprocess.CalledProcessError):
    """An experiment's subprocess failed (a ``CalledProcessError`` without the payload)."""

    def __init__(self, returncode: int, cmd: Any, exp_name: str = "") -> None:
        super().__init__(returncode, cmd)
        self.exp_name = exp_name
        """Name of the experiment that failed."""

    def __str__(self) -> str:
        how = (
            f"was killed by signal {-self.returncode}"
            if self.returncode < 0
            else f"failed with exit status {self.returncode}"
        )
        return f"experiment {self.exp_name!r} {how}; its traceback is in the output above"


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


def default_shorthand(key: str) -> str:
    """The reference default shorthand: of each ``:`` part, the letters and digits among its
    first three characters, joined with ``-`` (``pi:hidden_sizes`` -> ``pi-hid``)."""
    return "-".join(
        "".join(c for c in part[:3] if c in _SHORTHAND_CHARS) for part in key.split(":")
    )


def _fresh(value: Any) -> Any:
    """A copy of a container value (so no variant shares it with the caller), else the value."""
    if isinstance(value, (dict, list, tuple, set)):
        return copy.deepcopy(value)
    return value


def _get_val(variant: dict[str, Any], key: str) -> Any:
    """The value of ``key`` in a (possibly nested) variant: ``a:b:c`` is ``v['a']['b']['c']``."""
    if key in variant:
        return variant[key]
    head, _, rest = key.partition(":")
    return _get_val(variant[head], rest)


def _unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """Nest the ``a:b`` keys of one flat variant, keeping the first-seen key order."""
    nested: dict[str, Any] = {}
    groups: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        head, sep, rest = key.partition(":")
        if not sep:
            if key in nested:
                raise ValueError(f"variant assigns both {key!r} and keys inside it; use only one")
            nested[key] = value
            continue
        if head not in groups:
            if head in nested:
                raise ValueError(f"variant assigns both {head!r} and {key!r}; use only one")
            groups[head] = nested[head] = {}
        groups[head][rest] = value
    for head, sub in groups.items():
        nested[head] = _unflatten(sub)
    return nested


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
            ValueError: an empty value list, a key given twice, ``a`` with ``a:b``, or a key
                reserved by ``call_experiment``.
        """
        self._check_key(key)
        if shorthand is not None and not isinstance(shorthand, str):
            raise TypeError(f"the shorthand of grid key {key!r} must be a string")
        if isinstance(vals, list):
            if not vals:
                raise ValueError(f"grid key {key!r} has an empty list of values; give at least one")
            vals = [_fresh(v) for v in vals]
        else:
            vals = [_fresh(vals)]
        if shorthand is None and user_config.DEFAULT_SHORTHAND:
            shorthand = self._default_shorthand(key)
        self.keys.append(key)
        self.vals.append(vals)
        self.shs.append(shorthand)
        self.in_names.append(bool(in_name))

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
                variant_val = _get_val(variant, k)
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
        self._require_params()
        return [
            _unflatten({k: _fresh(v) for k, v in zip(self.keys, combo)})
            for combo in itertools.product(*self.vals)
        ]

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

        nvars_total = math.prod(len(v) for v in self.vals)
        if "seed" in self.keys:
            num_seeds = len(self.vals[self.keys.index("seed")])
            nvars_seedless = int(nvars_total / num_seeds)
        else:
            nvars_seedless = nvars_total
        print(" Variants, counting seeds: ".ljust(40), nvars_total)
        print(" Variants, not counting seeds: ".ljust(40), nvars_seedless)
        print()
        print("=" * DIV_LINE_WIDTH)

    def run(
        self,
        thunk: str | Callable[..., Any],
        num_cpu: int | str = 1,
        data_dir: str | None = None,
        datestamp: bool = False,
        **engine_options: Any,
    ) -> Any:
        """Run every variant with ``thunk`` on the parallel engine.

        ``thunk`` is a callable, or the name of a grid parameter whose values are the
        callables (as in the reference). ``num_cpu``, ``data_dir`` and ``datestamp`` mean
        what they mean for ``call_experiment``. ``engine_options``: ``ui=True`` opens the
        dashboard, ``resume=True``, and the ``[run]`` settings (``max_cpus``, ``retries``,
        ``timeout``, ``fail_fast``, ``backend``...).

        Raises:
            ExperimentsFailed: after every run ended, when some did not succeed (its
                ``failed`` lists their ledger records).
        """
        from slc_tui.engine.api import run_grid

        return run_grid(
            self, thunk, num_cpu=num_cpu, data_dir=data_dir, datestamp=datestamp, **engine_options
        )


def __getattr__(name: str) -> Any:
    """``ExperimentsFailed`` lives with the engine; import it only when asked for (PEP 562)."""
    if name == "ExperimentsFailed":
        from slc_tui.engine.api import ExperimentsFailed

        return ExperimentsFailed
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
