"""``slc-tui run THUNK --key v1 v2 ...``: the grammar of ``python -m spinup.run``, into a grid.

Pure: nothing runs, nothing is imported or written. It follows ``parse_and_execute_grid_search``
of SpinningUp's ``spinup/run.py`` and of stable-learning-control's ``stable_learning_control/
run.py`` pass by pass, so keys come in the reference's order (a ``--key[sh]`` key moves to the
end, then each substituted key in table order), with its shorthands, names and folders:

- every word after a ``--flag`` up to the next flag is one value of it (see
  :mod:`slc_tui.spinup_rules`); a flag without values is ``True``;
- ``--key[sh]`` gives the shorthand ``sh``; ``--a:b`` sets ``b`` inside the dict ``a``;
- the substitutions (``--env`` for ``--env_name``, ``--hid``, ``--act``, ``--cpu``, ``--dt``;
  SLC's table for SLC algorithms) and the single-valued ``--num_cpu``, ``--data_dir``,
  ``--datestamp``, ``--exp_name``; the name defaults to ``'cmd_' + algorithm``.

THUNK is slc-tui's ``module:function`` or ``file.py:function`` (``cmd_<function>`` is then the
default name), or an algorithm name as the references take it (``sac``, ``lac``, ``latc`` with
``_pytorch`` / ``_tf2``: stable-learning-control; ``vpg``, ``trpo``, ``ppo``, ``ddpg``, ``td3``
with ``_pytorch`` / ``_tf1``, and ``sac_tf1``: SpinningUp). Deliberate fixes: a flag given twice
(or with its alias) is an error, not the last one silently winning; only a word that starts with
``--`` is a flag; ``--exp_name``, ``--data_dir`` and ``--cpu`` need a value; the gym registry is
not consulted (runs that name a missing environment fail on their own).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, NamedTuple

from slc_tui.experiment import OWN_LOGGER_KEYS, RESERVED_KEYS
from slc_tui.grid import ExperimentGrid
from slc_tui.grid_toml import to_toml
from slc_tui.serialization import name_problem
from slc_tui.spinup_rules import (
    RUN_KEYS,
    SLC_NAMES,
    SLC_SUBSTITUTIONS,
    SPINUP_NAMES,
    SPINUP_SUBSTITUTIONS,
    Algorithm,
    FlagError,
    ValueProblem,
    algorithm,
    read_value,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

HELP_WORDS = ("--help", "-h", "help")
_KEY = re.compile(r"(?P<key>[A-Za-z_]\w*(?::\w[\w.-]*)*)(?:\[(?P<sh>[\w.-]*)\])?")


class Translation(NamedTuple):
    """A command line (or exp_cfg file) as slc-tui runs it: ``grid, thunk, run_kwargs = ...``."""

    grid: ExperimentGrid
    thunk: str
    run_kwargs: dict[str, Any]
    """``num_cpu``, ``data_dir`` (None: the default) and ``datestamp``, for ``plan_grid``."""


def wants_help(argv: list[str]) -> bool:
    """Whether the reference would show the algorithm's docstring (any word is a help word)."""
    return any(word in HELP_WORDS for word in argv)


def split_own(argv: list[str], arity: Mapping[str, int]) -> tuple[list[str], list[str]]:
    """Take slc-tui's own flags (``{"--save-grid": 1, "--no-ui": 0}``: how many values each
    takes, ``--flag=value`` too) out of ``argv``: ``(the grammar's words, the own flags)``."""
    rest: list[str] = []
    own: list[str] = []
    words = iter(argv)
    for word in words:
        name = word.split("=", 1)[0]
        if name not in arity:
            rest.append(word)
            continue
        own.append(word)
        for _ in range(0 if "=" in word else arity[name]):
            nxt = next(words, None)
            if nxt is None:
                raise FlagError(f"needs {arity[name]} value(s)", name)
            own.append(nxt)
    return rest, own


def tokenize(words: list[str]) -> list[tuple[str, list[str]]]:
    """The ``(flag, value words)`` pairs of a command line (after THUNK)."""
    flags: list[tuple[str, list[str]]] = []
    for word in words:
        if word.startswith("--"):
            flags.append((word, []))
        elif not flags:
            raise FlagError(
                f"{word!r} comes before any flag; start with a flag, as in --env CartPole-v1 "
                "--seed 0 10 (spinup.run's grammar: --key value ...)"
            )
        else:
            flags[-1][1].append(word)
    return flags


def _key(flag: str) -> tuple[str, str | None]:
    body = flag[2:]
    m = _KEY.fullmatch(body)
    if m and body not in ("exp_cfg", "eval_cfg"):
        return m.group("key"), m.group("sh")
    if "=" in body:
        problem = f"write {flag.split('=', 1)[0]} VALUE (spinup.run takes no '=')"
    elif m:
        problem = "slc-tui reads an exp_cfg file given alone: slc-tui EXP_CFG.yml"
    else:
        problem = (
            "is not a flag of spinup.run's grammar: --key, --key[shorthand] or --dict:key, "
            "where a key is a Python name"
        )
    raise FlagError(problem, flag)


def _text(text: str) -> str:
    """A name or a folder: the word itself, or the string it quotes (``"'x'"``)."""
    try:
        value = read_value(text, frozenset())
    except ValueProblem:
        return text
    return value if isinstance(value, str) and value else text


def build(alg: Algorithm, flags: list[tuple[str, list[str]]]) -> Translation:
    """The grid, thunk and run keywords of ``flags`` (from :func:`tokenize`) for ``alg``.

    Raises:
        FlagError: bad input; ``flag`` names the flag as written.
    """
    names = SLC_NAMES if alg.slc else SPINUP_NAMES
    reference = "SLC's run.py" if alg.slc else "spinup.run"
    entries: dict[str, tuple[str, list[str]]] = {}  # the reference's arg_dict, with the flags
    shorthands: dict[str, str] = {}
    parsed = []
    for flag, texts in flags:
        if flag == "--help":
            raise FlagError("asks for help; run slc-tui run --help", flag)
        key, sh = _key(flag)
        if flag[2:] in entries:
            raise FlagError("is given twice; give all its values after one flag", flag)
        entries[flag[2:]] = (flag, texts)
        parsed.append((flag[2:], key, sh))
    for body, key, sh in parsed:  # third pass: --key[sh]
        if sh is not None:
            if key in entries:
                raise FlagError(
                    f"and {entries[key][0]} both give {key}; keep one", entries[body][0]
                )
            entries[key] = entries.pop(body)
            shorthands[key] = sh
    for special, true in (SLC_SUBSTITUTIONS if alg.slc else SPINUP_SUBSTITUTIONS).items():
        if special in entries:
            if true in entries:
                raise FlagError(
                    f"and {entries[true][0]} both give {true}; keep one", entries[special][0]
                )
            entries[true] = entries.pop(special)
        if special in shorthands:
            shorthands[true] = shorthands.pop(special)
    return _assemble(alg, entries, shorthands, names, reference)


def _assemble(
    alg: Algorithm,
    entries: dict[str, tuple[str, list[str]]],
    shorthands: dict[str, str],
    names: frozenset[str],
    reference: str,
) -> Translation:
    def value(flag: str, text: str) -> Any:
        try:
            return read_value(text, names, reference)
        except ValueProblem as exc:
            raise FlagError(f"{text!r} {exc}", flag) from None

    def single(key: str) -> tuple[str, Any]:
        flag, texts = entries.pop(key)
        if not texts and key == "datestamp":
            return flag, True  # a flag without values is True
        if len(texts) != 1:
            many = "needs a value" if not texts else f"takes one value, not {len(texts)}"
            raise FlagError(f"{many} ({key} is the same for every run)", flag)
        if key in ("exp_name", "data_dir"):
            return flag, _text(texts[0])
        return flag, value(flag, texts[0])

    exp_flag, exp_name = single("exp_name") if "exp_name" in entries else (None, "cmd_" + alg.cmd)
    if problem := name_problem(exp_name):
        raise FlagError(f"the experiment name {exp_name!r} {problem}", exp_flag)
    kwargs: dict[str, Any] = {"num_cpu": 1, "data_dir": None, "datestamp": False}
    for key in RUN_KEYS:
        if key in entries:
            flag, kwargs[key] = single(key)
            _check_run_key(alg, flag, key, kwargs[key])
    if alg.named and "env_name" not in entries:
        raise FlagError(
            f"no env_name: {alg.cmd} needs the environment it trains on (env for short)"
        )
    if not entries:
        raise FlagError("no parameters: give at least one, as in --seed 0 10 20")
    grid = ExperimentGrid(exp_name)
    for key, (flag, texts) in entries.items():
        head = key.split(":")[0]
        if head in RESERVED_KEYS:
            how = "it is THUNK, the first word" if head == "thunk" else f"give --{head} VALUE once"
            raise FlagError(f"{head} is not a parameter ({how})", flag)
        vals = [value(flag, t) for t in texts] if texts else [True]
        if head == "logger_kwargs":
            _check_logger_kwargs(flag, key, vals)
        try:
            grid.add(key, vals, shorthand=shorthands.get(key))
        except (TypeError, ValueError) as exc:
            raise FlagError(str(exc), flag) from None
    return Translation(grid, alg.thunk, kwargs)


def _check_logger_kwargs(flag: str, key: str, vals: list[Any]) -> None:
    sub = key.split(":")[1] if ":" in key else None
    given = [sub] if sub else [k for v in vals if isinstance(v, dict) for k in v]
    if sub is None and not all(isinstance(v, dict) for v in vals):
        raise FlagError("takes a dict (or set one key of it: --logger_kwargs:KEY VALUE)", flag)
    for own in OWN_LOGGER_KEYS:
        if own in given:
            raise FlagError(f"slc-tui sets each run's logger_kwargs {own} itself", flag)


def _check_run_key(alg: Algorithm, flag: str, key: str, value: Any) -> None:
    if key == "datestamp" and not isinstance(value, bool):
        raise FlagError(f"{value!r} is not True or False", flag)
    elif key == "num_cpu":
        if value != "auto" and (type(value) is not int or value < 1):
            raise FlagError(
                f"{value!r} is not a number of CPUs; give a whole number >= 1 or auto", flag
            )
        if value != 1 and not alg.mpi:
            raise FlagError(f"{alg.cmd} cannot run with num_cpu > 1 (it is not MPI-parallel)", flag)


def parse(argv: list[str]) -> Translation:
    """``[THUNK, --key, v1, ...]`` (the words after ``slc-tui run``) into a grid.

    Returns:
        ``(grid, thunk, run_kwargs)``: the ``ExperimentGrid``, the thunk reference, and
        ``{"num_cpu": ..., "data_dir": ..., "datestamp": ...}``.

    Raises:
        FlagError (an InputError): bad input, one sentence naming the flag.
    """
    if not argv:
        raise FlagError("give THUNK ('module:function', 'file.py:function' or an algorithm)")
    if argv[0].startswith("-"):
        raise FlagError("is where THUNK comes first (a 'module:function' reference)", argv[0])
    return build(algorithm(argv[0]), tokenize(argv[1:]))


__all__ = [
    "Algorithm",
    "FlagError",
    "Translation",
    "algorithm",
    "build",
    "parse",
    "split_own",
    "to_toml",
    "wants_help",
]
