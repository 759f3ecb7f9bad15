"""The reference rules that ``spinup_args`` and ``slc_config`` follow: the algorithm names,
the substitution tables, and how one value word is read, as the reference reads it but without
``eval``.

SpinningUp's ``spinup/run.py`` (``process``) and stable-learning-control's
``stable_learning_control/run.py`` (``_process_arg`` -> ``utils/safer_eval_util.safer_eval``)
``eval`` each value and keep the text when that raises. :func:`read_value` gives the same value
for every value that is data:

- a Python literal (``ast.literal_eval``): ``0``, ``1e-3``, ``[32, 32]``, ``64,64`` (a tuple),
  ``{'a': 1}``, ``True``, ``None``, ``'text'``;
- arithmetic on numbers and ``int(...)`` / ``float(...)`` of numbers, which SLC's example
  files use: ``int(1e6)``, ``2**10``, ``1/3``, ``[64]*2``, ``float('inf')``;
- else the text itself, as the reference keeps it when its ``eval`` fails: ``CartPole-v1``,
  ``stable_gym:Oscillator-v1``, ``linear``, ``np.pi`` (no such name in the reference);
- activation names (``nn.ReLU``, ``torch.nn.Tanh``, ``tf.nn.relu``) stay text, which SLC's
  algorithms resolve themselves (``algos/pytorch/common/helpers.py`` ``mlp``); the reference
  passes the class, so a name reads ``nn-relu`` where the reference's reads ``relu``.

Refused (:class:`ValueProblem`): a broken literal (``[32, 32``: the reference passes the text
and the run fails later), Python the reference would evaluate into an object (``torch.float32``,
``max``, ``lambda: 0``: every name in it is one the reference's ``eval`` knows), and what no
run's parameters can hold, as they are stored as JSON (sets, bytes, complex numbers).
"""

from __future__ import annotations

import ast
import builtins
import operator
import re
import warnings
from typing import Any, NamedTuple

from slc_tui.errors import InputError

_KNOWN = frozenset(dir(builtins)) | {"__builtins__", "__file__", "__cached__"}
SPINUP_NAMES = _KNOWN | {  # the globals of spinup/run.py, and process()'s own argument
    "spinup", "DEFAULT_BACKEND", "ExperimentGrid", "convert_json", "argparse", "gym", "json",
    "os", "subprocess", "sys", "osp", "string", "tf", "torch", "deepcopy", "dedent", "RUN_KEYS",
    "SUBSTITUTIONS", "MPI_COMPATIBLE_ALGOS", "BASE_ALGO_NAMES", "add_with_backends",
    "friendly_err", "parse_and_execute_grid_search", "arg",
}  # fmt: skip
"""Names the ``eval`` of ``python -m spinup.run`` knows."""
SLC_NAMES = _KNOWN | {"torch", "tensorflow", "tf", "stable_learning_control", "slc", "nn"}
"""Names the ``safer_eval`` of SLC's run.py knows (``AVAILABLE_GLOBAL_MODULES``, ``nn``)."""
RUN_KEYS = ("num_cpu", "data_dir", "datestamp")
SPINUP_SUBSTITUTIONS = {
    "env": "env_name", "hid": "ac_kwargs:hidden_sizes", "act": "ac_kwargs:activation",
    "cpu": "num_cpu", "dt": "datestamp",
}  # fmt: skip
"""``spinup/run.py`` SUBSTITUTIONS."""
SLC_SUBSTITUTIONS = {
    "env": "env_name", "env_k": "env_kwargs",
    "hid": "ac_kwargs:hidden_sizes",
    "hid_a": "ac_kwargs:hidden_sizes:actor", "hid_c": "ac_kwargs:hidden_sizes:critic",
    "act": "ac_kwargs:activation", "act_out": "ac_kwargs:output_activation",
    "act_a": "ac_kwargs:activation:actor", "act_out_a": "ac_kwargs:output_activation:actor",
    "act_c": "ac_kwargs:activation:critic", "act_out_c": "ac_kwargs:output_activation:critic",
    "cpu": "num_cpu", "dt": "datestamp", "q": "quiet",
    "use_tb": "logger_kwargs:use_tensorboard", "use_wandb": "logger_kwargs:use_wandb",
    "wandb_job_type": "logger_kwargs:wandb_job_type", "wandb_proj": "logger_kwargs:wandb_project",
    "wandb_group": "logger_kwargs:wandb_group", "wandb_run_name": "logger_kwargs:wandb_run_name",
    "save_cps": "logger_kwargs:save_checkpoints", "tb_log_freq": "logger_kwargs:tb_log_freq",
    "quiet": "logger_kwargs:quiet", "verbose_fmt": "logger_kwargs:verbose_fmt",
    "verbose_vars": "logger_kwargs:verbose_vars",
}  # fmt: skip
"""SLC's run.py SUBSTITUTIONS (``q`` -> ``quiet`` -> ``logger_kwargs:quiet``)."""
SLC_ALGOS = {"sac": "pytorch", "lac": "pytorch", "latc": "pytorch"}
"""SLC's ``BASE_ALGO_NAMES`` and ``user_config.DEFAULT_BACKEND``; backends pytorch, tf2."""
SPINUP_ALGOS = {"vpg": "pytorch", "trpo": "tf1", "ppo": "pytorch", "ddpg": "pytorch",
                "td3": "pytorch", "sac": "pytorch"}  # fmt: skip
"""SpinningUp's ``BASE_ALGO_NAMES`` and ``user_config.DEFAULT_BACKEND``; backends pytorch, tf1."""
_ACTIVATION = re.compile(
    r"(?:(?:torch\.)?nn(?:\.functional)?|(?:tf|tensorflow)\.(?:nn|keras\.activations))"
    r"\.[A-Za-z_]\w*"
)
_OPENERS = "[({'\""
_MAX_ITEMS = 100_000
_MAX_BITS = 1 << 16
_BINARY: dict[type, Any] = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
                            ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv,
                            ast.Mod: operator.mod, ast.Pow: operator.pow}  # fmt: skip
_CALLS = {"int": int, "float": float}


class ValueProblem(Exception):
    """A value slc-tui will not take; ``str()`` says why, without naming the flag."""


class FlagError(InputError):
    """Bad input about one flag (``flag``, as written) or, with ``flag`` None, the whole."""

    def __init__(self, problem: str, flag: str | None = None) -> None:
        super().__init__(f"{flag}: {problem}" if flag else problem)
        self.flag = flag
        self.problem = problem


class Algorithm(NamedTuple):
    """What THUNK (or an exp_cfg's ``alg_name``) names."""

    thunk: str
    """The ``module:function`` (or ``file.py:function``) reference."""
    cmd: str
    """The reference's command (``sac_pytorch``): the default name is ``'cmd_' + cmd``."""
    slc: bool
    """Read with stable-learning-control's rules (its substitutions and eval names)."""
    named: bool
    """An algorithm of a reference, which needs ``env_name``."""
    mpi: bool
    """May run with ``num_cpu`` other than 1 (the reference's ``MPI_COMPATIBLE_ALGOS``)."""


class _Foreign(Exception):
    """An expression outside what this module evaluates."""


class _Failed(Exception):
    """An expression whose evaluation raises: the reference keeps the text."""


def _number(value: Any) -> bool:
    return isinstance(value, (int, float))


def _binary(op: ast.operator, left: Any, right: Any) -> Any:
    fn = _BINARY.get(type(op))
    if fn is None:
        raise _Foreign
    if _number(left) and _number(right):
        big = isinstance(op, ast.Pow) and isinstance(left, int) and isinstance(right, int)
        if big and abs(left) > 1 and right > 0 and left.bit_length() * right > _MAX_BITS:
            raise ValueProblem("is a number too large to be a parameter")
        return fn(left, right)
    seq = (list, tuple)
    if isinstance(op, ast.Mult) and isinstance(left, int) and isinstance(right, seq):
        left, right = right, left
    if isinstance(op, ast.Mult) and isinstance(left, seq) and isinstance(right, int):
        if len(left) * right > _MAX_ITEMS:
            raise ValueProblem(f"would hold more than {_MAX_ITEMS} items")
        return left * right
    if isinstance(op, ast.Add) and isinstance(left, seq) and type(left) is type(right):
        return operator.add(left, right)
    raise _Failed  # the reference's eval raises TypeError here (or the types are not data)


def _eval(node: ast.AST) -> Any:
    """The value of a data expression; _Foreign for anything else."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_eval(x) for x in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_eval(k): _eval(v) for k, v in zip(node.keys, node.values)}  # type: ignore[arg-type]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _eval(node.operand)
        if not _number(value):
            raise _Failed
        return -value if isinstance(node.op, ast.USub) else +value
    if isinstance(node, ast.BinOp):
        return _binary(node.op, _eval(node.left), _eval(node.right))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _CALLS
        and len(node.args) == 1
        and not node.keywords
    ):
        arg = _eval(node.args[0])
        if not isinstance(arg, (int, float, str)):
            raise _Failed
        return _CALLS[node.func.id](arg)
    raise _Foreign


def check_data(value: Any) -> None:
    """Raise ValueProblem unless ``value`` is plain data a run's parameters can hold."""
    if isinstance(value, str) and "\0" in value:
        raise ValueProblem("has a NUL byte, which no parameter may hold")
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            check_data(item)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not (key is None or isinstance(key, (bool, int, float, str))):
                raise ValueProblem(f"has the dict key {key!r}; use strings or numbers as keys")
            check_data(item)
        return
    kind = type(value).__name__
    raise ValueProblem(
        f"is a Python {kind}, which a run's parameters cannot hold (they are stored as JSON); "
        "use a list, a number or a string"
    )


def _expression(text: str, names: frozenset[str], reference: str) -> Any:
    """The value of a text that is no literal: evaluated data, the text itself, or a refusal."""
    stripped = text.strip()
    try:
        tree = ast.parse(text.lstrip(" \t"), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        if stripped[:1] and stripped[0] in _OPENERS:
            raise ValueProblem(
                "is not a valid Python literal (an unclosed bracket or quote?); "
                "write lists as [32, 32] and strings as plain text or in quotes"
            ) from None
        return text
    if _ACTIVATION.fullmatch(stripped):
        return text
    try:
        return _eval(tree.body)
    except (_Failed, ZeroDivisionError, OverflowError, ValueError, TypeError):
        return text  # the reference's eval raises too, and it keeps the text
    except _Foreign:
        pass
    except RecursionError:
        raise ValueProblem("is nested too deeply") from None
    nodes = list(ast.walk(tree))
    free = {n.id for n in nodes if isinstance(n, ast.Name)}
    binds = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
    if free <= names or any(isinstance(n, binds) for n in nodes):
        raise ValueProblem(
            f"is Python that {reference} would evaluate into an object, and slc-tui evaluates "
            "no code: give a literal (a number, string, list, dict, True, False or None, or "
            "arithmetic such as 2**10 or int(1e6)), or the text in quotes, as "
            f"\"'{stripped}'\", to pass it as a string"
        )
    return text  # a name the reference does not know: its eval raises NameError


def read_value(text: str, names: frozenset[str] = SPINUP_NAMES, reference: str = "") -> Any:
    """The value of one command-line value ``text``, as the reference would read it.

    Args:
        text: the value as typed (one shell word).
        names: the names the reference's ``eval`` knows (:data:`SPINUP_NAMES` or
            :data:`SLC_NAMES`): an expression made of those only is refused, one with another
            name is kept as text.
        reference: the reference's words for messages (``"spinup.run"``).

    Raises:
        ValueProblem: see the module docstring.
    """
    with warnings.catch_warnings():  # "invalid decimal literal" and the like: not the user's
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            value = ast.literal_eval(text)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            value = _expression(text, names, reference or "the reference")
    check_data(value)
    return value


def algorithm(ref: str, *, slc_only: bool = False) -> Algorithm:
    """The algorithm THUNK names: a thunk reference, or an algorithm name of a reference."""
    module, sep, attr = ref.rpartition(":")
    if sep:
        if not module.strip() or not attr.strip():
            raise FlagError(
                f"the thunk {ref!r} must look like 'module:function' or 'file.py:function'"
            )
        slc = module.split(".")[0] == "stable_learning_control"  # no SLC algorithm is MPI
        return Algorithm(ref, attr, slc=slc, named=False, mpi=not slc)
    base, _, backend = ref.rpartition("_")
    if backend not in ("pytorch", "tf2", "tf1"):
        base, backend = ref, ""
    if base in SLC_ALGOS and backend in ("", "pytorch", "tf2"):
        backend = backend or SLC_ALGOS[base]
        where = f"stable_learning_control.algos.{backend}.{base}.{base}:{base}"
        return Algorithm(where, f"{base}_{backend}", slc=True, named=True, mpi=False)
    if not slc_only and base in SPINUP_ALGOS and backend in ("", "pytorch", "tf1"):
        backend = backend or SPINUP_ALGOS[base]
        where = f"spinup.algos.{backend}.{base}.{base}:{base}"
        mpi = base in ("vpg", "trpo", "ppo")
        return Algorithm(where, f"{base}_{backend}", slc=False, named=True, mpi=mpi)
    names = "sac, lac, latc" + ("" if slc_only else ", vpg, trpo, ppo, ddpg, td3")
    raise FlagError(
        f"{ref!r} is neither a thunk ('module:function' or 'file.py:function') nor an "
        f"algorithm name ({names}, optionally with a backend suffix such as _pytorch)"
    )
