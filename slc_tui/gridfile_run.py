"""The ``[run]`` and ``[slurm]`` tables of a grid file as ``RunOptions``; each problem a
``GridFileError`` naming the file, the key and its line."""

from __future__ import annotations

from typing import Any

from slc_tui.gpus import budget_problem
from slc_tui.gridfile_lines import Problems
from slc_tui.gridfile_values import as_cpus, as_flag, as_number, as_text, toml_repr
from slc_tui.options import BACKENDS, ORDERS, RunOptions

RUN_KEYS = ("max_cpus", "retries", "timeout", "fail_fast", "backend", "oversubscribe", "mpiexec",
            "gpus", "threads", "order", "preload")  # fmt: skip


def slurm_table(p: Problems, slurm: dict[str, Any]) -> dict[str, Any]:
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


def _choice(
    p: Problems, at: tuple[str, ...], value: Any, allowed: tuple[str, ...], what: str
) -> str:
    if value not in allowed:
        raise p.error(at, f"{toml_repr(value)} is not {what}; use one of {', '.join(allowed)}")
    return str(value)


def run_options(p: Problems, run: dict[str, Any], slurm: dict[str, Any]) -> RunOptions:
    """The ``[run]`` table as ``RunOptions``, with the ``[slurm]`` table checked and attached."""
    kw: dict[str, Any] = {"slurm": slurm_table(p, slurm)}
    for key, value in run.items():
        at = ("run", key)
        if key == "max_cpus":
            kw[key] = as_cpus(p, at, value)
        elif key == "retries":
            kw[key] = int(as_number(p, at, value, integer=True))
        elif key == "timeout":
            kw[key] = as_number(p, at, value, integer=False)
        elif key == "backend":
            kw[key] = _choice(p, at, value, BACKENDS, "a backend")
        elif key == "order":
            kw[key] = _choice(p, at, value, ORDERS, "an order")
        elif key == "mpiexec":
            kw[key] = as_text(p, at, value)
        elif key == "gpus":
            if problem := budget_problem(value):
                raise p.error(at, f"{toml_repr(value)} {problem}")
            kw[key] = value
        elif key == "threads":
            kw[key] = int(as_cpus(p, at, value)) if value != "auto" else None
        elif key == "preload":
            if not isinstance(value, list):
                raise p.error(at, f"{toml_repr(value)} is not a list of module names")
            kw[key] = tuple(as_text(p, at, v) for v in value)
        else:
            kw[key] = as_flag(p, at, value)
    return RunOptions(**kw)
