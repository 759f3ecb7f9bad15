"""``slc-tui EXP_CFG.yml``: a stable-learning-control ``--exp_cfg`` file, into a grid.

Pure: nothing runs, nothing is imported but PyYAML, nothing is written. It follows SLC's
``stable_learning_control/run.py``: ``_parse_exp_cfg`` turns the file into command-line words,
which ``_parse_and_execute_grid_search`` reads as SLC's command line (:mod:`slc_tui.spinup_args`
with SLC's substitutions and eval names):

- ``alg_name`` names the algorithm (``sac``, ``lac``, ``latc``, with ``_pytorch`` / ``_tf2``;
  the backend defaults to pytorch): ``lac`` runs ``stable_learning_control.algos.pytorch.lac.
  lac:lac`` and the name defaults to ``cmd_lac_pytorch``. slc-tui also takes a thunk reference
  there (``module:function``, ``file.py:function``, a file next to the YAML file first);
- every other key is a flag (``--key``; a key may carry a shorthand, ``seed[s]``, or be a
  substitution such as ``env`` or ``hid``); a string value is split at spaces and commas into
  several values (``seed: 0 234 567``, ``lr_a: "1e-4, 1e-3"``); any other value is one value
  written as Python writes it (``[64, 64]`` is one list, ``ac_kwargs`` one dict); an empty
  value is an on/off flag (``True``).

YAML is read as YAML 1.2 (``ruamel.yaml``, which SLC uses, reads it so): only ``true`` /
``false`` are booleans (not ``yes``, ``on``), no base-60 numbers, ``010`` is ten.

Deliberate fixes: split values keep their order (SLC dedupes them through a ``set``, so their
order changes from run to run) and a key given twice is an error at its line; an empty string,
``seed: [0, 1]`` (one list-valued seed in SLC) and anything SLC's loader would ignore with only a
warning (an unreadable or empty file) are errors. Every error is a ``GridFileError`` naming the
file, the key and its line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from slc_tui.gridfile_lines import GridFileError, read_text
from slc_tui.spinup_args import Translation, build
from slc_tui.spinup_rules import FlagError, algorithm

_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_TAG = "tag:yaml.org,2002:"


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:
        raise GridFileError(
            "reading an SLC exp_cfg file needs PyYAML; install it with pip install pyyaml"
        ) from None
    return yaml


def _loader(yaml: Any) -> Any:
    """PyYAML's safe loader with the YAML 1.2 core schema's booleans and numbers."""

    class Loader(yaml.SafeLoader):  # type: ignore[misc,name-defined]
        pass

    plain = (_TAG + "bool", _TAG + "int", _TAG + "float")
    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in plain]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver(_TAG + "bool", _BOOL, list("tTfF"))
    Loader.add_implicit_resolver(_TAG + "int", _INT, list("-+0123456789"))
    Loader.add_implicit_resolver(_TAG + "float", _FLOAT, list("-+0123456789."))

    def integer(loader: Any, node: Any) -> int:
        text = loader.construct_scalar(node)
        return int(text, 0) if text[:2] in ("0o", "0x") else int(text, 10)

    Loader.add_constructor(_TAG + "int", integer)
    return Loader


def _duplicates(yaml: Any, node: Any, shown: str, path: Path) -> None:
    """A key given twice in a mapping is an error at its line (ruamel.yaml refuses it too)."""
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    line = key.start_mark.line + 1
                    raise GridFileError(
                        f"{shown}:{line}: {key.value}: the key is given twice; keep one",
                        path, key.value, line,
                    )  # fmt: skip
                seen.add(key.value)
            _duplicates(yaml, value, shown, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _duplicates(yaml, item, shown, path)


def _read(path: Path, shown: str) -> tuple[Any, dict[str, int]]:
    """The document of the file and the line of each top-level key."""
    text = read_text(path, shown, "exp_cfg file")
    yaml = _yaml()
    loader = _loader(yaml)(text)
    try:
        node = loader.get_single_node()
        _duplicates(yaml, node, shown, path)
        doc = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        what = getattr(exc, "problem", None) or str(exc)
        at = f"{shown}:{line}" if line else shown
        raise GridFileError(f"{at}: YAML syntax error: {what}", path, line=line) from None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode):
                lines.setdefault(str(key.value), key.start_mark.line + 1)
    return doc, lines


def _words(value: Any) -> list[str]:
    """The command-line words SLC makes of a value (``_parse_hyperparameter_variants``)."""
    if value is None:
        return []
    if not isinstance(value, str):
        return [str(value)]
    return list(dict.fromkeys(w for w in value.replace(" ", ",").split(",") if w != ""))


def _thunk(ref: str, here: Path) -> str:
    """A relative ``file.py:function`` alg_name, taken next to the exp_cfg file when it is there."""
    from slc_tui.thunks import is_file_ref

    module, _, attr = ref.rpartition(":")
    if is_file_ref(module) and not os.path.isabs(os.path.expanduser(module)):
        beside = here / module
        if beside.is_file():
            return f"{os.path.normpath(beside)}:{attr}"
    return ref


def load(path: str | Path) -> Translation:
    """An SLC experiment file (``--exp_cfg``) into a grid.

    Returns:
        ``(grid, thunk, run_kwargs)``: the ``ExperimentGrid``, the thunk reference (SLC's
        algorithm as ``module:function``), and ``{"num_cpu", "data_dir", "datestamp"}``.

    Raises:
        GridFileError: bad input, one sentence with the file, the key and its line.
    """
    shown = str(path)
    abs_path = Path(os.path.abspath(os.path.expanduser(path)))
    doc, lines = _read(abs_path, shown)

    def error(problem: str, key: str | None = None) -> GridFileError:
        line = lines.get(key) if key is not None else None
        at = f"{shown}:{line}" if line else shown
        return GridFileError(f"{at}: {key}: {problem}" if key else f"{at}: {problem}",
                             abs_path, key, line)  # fmt: skip

    if doc is None or doc == {}:
        raise error("no hyperparameters; an exp_cfg file is a mapping such as alg_name: sac")
    if not isinstance(doc, dict):
        raise error(f"holds a YAML {type(doc).__name__}, not a mapping of keys to values")
    for key in doc:
        if not isinstance(key, str):
            raise GridFileError(f"{shown}: the key {key!r} is not a name", abs_path)
    if "alg_name" not in doc:
        raise error("the key alg_name is missing; name the algorithm, as in alg_name: sac")
    alg_name = doc["alg_name"]
    if not isinstance(alg_name, str):
        raise error(f"{alg_name!r} is not an algorithm name (sac, lac or latc)", "alg_name")
    try:
        alg = algorithm(alg_name.strip(), slc_only=True)
    except FlagError as exc:
        raise error(exc.problem, "alg_name") from None
    alg = alg._replace(thunk=_thunk(alg.thunk, abs_path.parent), slc=True)
    flags: list[tuple[str, list[str]]] = []
    key_of: dict[str, str] = {}
    for key, value in doc.items():
        if key == "alg_name":
            continue
        flag = key if key.startswith("--") else "--" + key
        words = _words(value)
        if isinstance(value, str) and not words:
            raise error("an empty string gives no value; give one, or no value for True", key)
        if key.split("[")[0] == "seed" and isinstance(value, list):
            spaced = " ".join(str(v) for v in value)
            raise error(f"{value!r} is one list-valued seed; write seeds as seed: {spaced}", key)
        flags.append((flag, words))
        key_of[flag] = key
    try:
        return build(alg, flags)
    except FlagError as exc:
        problem = exc.problem
        for flag in sorted(key_of, key=len, reverse=True):  # "and --env_name both give ..."
            problem = problem.replace(f"and {flag} ", f"and {key_of[flag]} ")
        raise error(problem, key_of.get(exc.flag or "")) from None
