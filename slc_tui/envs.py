"""Environment ids: a grid's ``env_name`` values resolved before anything runs.

Each run turns ``env_name`` into ``env_fn = lambda: gymnasium.make(env_name, **env_kwargs)``
(as the reference does), so an id gymnasium does not know fails every run, one after
another. :func:`grid_env_problem` resolves each distinct id once, as ``gymnasium.make`` does:
a ``"module:Env-v0"`` id imports ``module`` first (it registers the environment), then the
id is looked up in ``gymnasium.envs.registry``; an id without a version stands for its latest
version. An unknown id is named with the nearest registered ids.

gymnasium costs 0.1 to 0.3 s to import: it is imported only for a grid that has ``env_name``.
The environments themselves are not made (their entry points are not imported).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from slc_tui.thunks import no_bytecode

if TYPE_CHECKING:
    from slc_tui.grid import ExperimentGrid

KEY = "env_name"
"""The parameter the entrypoint turns into ``env_fn``."""


def nearest(env_id: str, known: list[str], n: int = 3) -> list[str]:
    """The registered ids most like ``env_id`` (case aside), best first."""
    import difflib

    lower: dict[str, str] = {}
    for name in known:
        lower.setdefault(name.lower(), name)
    found = difflib.get_close_matches(env_id.lower(), list(lower), n=n, cutoff=0.6)
    return [lower[f] for f in found]


def _import(module: str) -> str | None:
    """Import ``module`` (as ``gymnasium.make`` does for ``module:Env-v0``); why not, or None."""
    import importlib

    try:
        with no_bytecode():
            importlib.import_module(module)
    except ModuleNotFoundError as exc:
        return f"its module {module!r} cannot be imported ({exc})"
    except Exception as exc:  # the user's module failed as it was imported
        return f"importing its module {module!r} failed: {type(exc).__name__}: {exc}"
    return None


def env_problem(env_id: Any) -> str | None:
    """Why ``gymnasium.make(env_id)`` would find no environment, or None when it would."""
    try:
        import gymnasium
        from gymnasium import error
        from gymnasium.envs.registration import EnvSpec, find_highest_version, parse_env_id
    except ImportError as exc:
        return f"{env_id!r} needs gymnasium, which cannot be imported ({exc})"
    if isinstance(env_id, EnvSpec):
        return None
    if not isinstance(env_id, str):
        return f"{env_id!r} is not an environment id; give a string such as 'CartPole-v1'"
    module, name = "", env_id
    if ":" in env_id:
        parts = env_id.split(":")
        if len(parts) != 2 or not all(parts):
            return f"{env_id!r} is not an environment id; write 'Env-v0' or 'module:Env-v0'"
        module, name = parts
        if problem := _import(module):
            return f"{env_id!r}: {problem}"
    registry = gymnasium.envs.registry
    if name in registry:
        return None
    try:
        namespace, base, version = parse_env_id(name)
    except error.Error as exc:
        return f"{env_id!r} is not an environment id ({exc})"
    if version is None and find_highest_version(namespace, base) is not None:
        return None  # gymnasium.make takes the latest version
    near = nearest(name, list(registry))
    text = f"{env_id!r} is not a registered gymnasium environment"
    if near:
        text += f" (did you mean {', '.join(map(repr, near))}?)"
    if module:
        return f"{text}; importing {module!r} registered no environment {name!r}"
    if near:
        return text
    return f"{text}; if a package registers it, write 'package:{name}' so that it is imported first"


def _distinct(values: list[Any]) -> Iterator[Any]:
    seen: list[Any] = []
    for value in values:
        if not any(type(value) is type(s) and value == s for s in seen):
            seen.append(value)
            yield value


def grid_env_problem(grid: ExperimentGrid) -> str | None:
    """Why some ``env_name`` value of ``grid`` names no environment, or None (also for a grid
    without ``env_name``, which imports nothing)."""
    if KEY not in grid.keys:
        return None
    for value in _distinct(grid.vals[grid.keys.index(KEY)]):
        if problem := env_problem(value):
            return problem
    return None
