"""Small thunks for ``call_experiment`` tests, importable by the child through the caller's path."""

from __future__ import annotations

import json
import os
from typing import Any


def record(logger_kwargs: dict[str, Any], seed: int, **kwargs: Any) -> None:
    """Write what the thunk received to ``output_dir/received.json``."""
    os.makedirs(logger_kwargs["output_dir"], exist_ok=True)
    received = {"seed": seed, "logger_kwargs": logger_kwargs, "kwargs": sorted(kwargs)}
    received["values"] = {k: v for k, v in kwargs.items() if k != "env_fn"}
    with open(os.path.join(logger_kwargs["output_dir"], "received.json"), "w") as f:
        json.dump(received, f)


def make_env(logger_kwargs: dict[str, Any], env_fn: Any, seed: int, **kwargs: Any) -> None:
    """Build the env from ``env_fn``, step it once, and write what it is."""
    env = env_fn()
    obs, _ = env.reset(seed=seed)
    env.step(env.action_space.sample())
    os.makedirs(logger_kwargs["output_dir"], exist_ok=True)
    info = {
        "id": env.spec.id,
        "obs_len": len(obs),
        "max_episode_steps": env.spec.max_episode_steps,
        "kwargs": sorted(kwargs),
    }
    env.close()
    with open(os.path.join(logger_kwargs["output_dir"], "env.json"), "w") as f:
        json.dump(info, f)


def fail(logger_kwargs: dict[str, Any], seed: int, **kwargs: Any) -> None:
    """Raise, so that the experiment fails."""
    raise RuntimeError("thunk failed on purpose")


def mutate(logger_kwargs: dict[str, Any], seed: int, ac_kwargs: dict[str, Any]) -> None:
    """Mutate a dict argument (only the child's copy should change)."""
    ac_kwargs["hidden_sizes"].append(99)
    record(logger_kwargs, seed, ac_kwargs=ac_kwargs)


def mpi_ranks(logger_kwargs: dict[str, Any], seed: int) -> None:
    """Each MPI rank writes its rank and the world size."""
    os.makedirs(logger_kwargs["output_dir"], exist_ok=True)
    rank, size = os.environ.get("PMI_RANK", "0"), os.environ.get("PMI_SIZE", "1")
    with open(os.path.join(logger_kwargs["output_dir"], f"rank{rank}.txt"), "w") as f:
        f.write(f"{rank}/{size} {os.environ.get('IN_MPI')}")
