"""The cross-entropy method on a gymnasium environment, with numpy alone and MPI-aware.

Each epoch samples a population of policy parameter vectors from a diagonal Gaussian, runs
one episode (or ``episodes_per_candidate``) with each, and refits the Gaussian to the best
``elite_frac`` of them, plus ``noise`` (decayed by ``noise_decay`` per epoch) to keep exploring.
The policy is linear (``hidden=0``) or a one-hidden-layer tanh MLP.

Under MPI the ranks split the population: every rank samples the same population from the
shared ``seed``, evaluates its own share (candidate ``i`` on rank ``i % num_procs()``) with
episode seeds derived from ``(seed, epoch, i)``, and the returns are summed over the ranks.
A run's results therefore depend on its seed only, not on its number of ranks.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from slc_tui.logx import EpochLogger
from slc_tui.mpi_tools import mpi_sum, num_procs, proc_id


class Policy:
    """A deterministic policy: linear or one-hidden-layer tanh MLP, for Discrete or Box actions."""

    def __init__(self, obs_dim: int, action_space: Any, hidden: int = 0) -> None:
        """Shape the policy for ``obs_dim`` inputs and ``action_space`` (Discrete or Box)."""
        self.discrete = hasattr(action_space, "n")
        self.out_dim = int(action_space.n) if self.discrete else int(np.prod(action_space.shape))
        self.low = None if self.discrete else np.asarray(action_space.low, dtype=np.float64)
        self.high = None if self.discrete else np.asarray(action_space.high, dtype=np.float64)
        dims = [obs_dim, hidden, self.out_dim] if hidden > 0 else [obs_dim, self.out_dim]
        self.shapes = [(a, b) for a, b in zip(dims[:-1], dims[1:])]
        """The (inputs, outputs) of each layer."""
        self.size = sum(a * b + b for a, b in self.shapes)
        """Number of parameters."""

    def layers(self, theta: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Split the flat parameter vector into (weights, biases) per layer."""
        out, i = [], 0
        for a, b in self.shapes:
            w = theta[i : i + a * b].reshape(a, b)
            out.append((w, theta[i + a * b : i + a * b + b]))
            i += a * b + b
        return out

    def act(self, layers: list[tuple[np.ndarray, np.ndarray]], obs: np.ndarray) -> Any:
        """The action for ``obs``."""
        x = obs
        for k, (w, b) in enumerate(layers):
            x = x @ w + b
            if k < len(layers) - 1:
                x = np.tanh(x)
        if self.discrete:
            return int(np.argmax(x))
        assert self.low is not None and self.high is not None
        return self.low + (np.tanh(x) + 1.0) * 0.5 * (self.high - self.low)


def run_episode(
    env: Any, policy: Policy, theta: np.ndarray, env_seed: int, max_ep_len: int
) -> tuple[float, int]:
    """Return and length of one episode of ``policy`` with parameters ``theta``."""
    layers = policy.layers(theta)
    obs, _ = env.reset(seed=env_seed)
    ep_ret, ep_len = 0.0, 0
    while ep_len < max_ep_len:
        obs, reward, terminated, truncated, _ = env.step(
            policy.act(layers, np.asarray(obs, dtype=np.float64).ravel())
        )
        ep_ret += float(reward)
        ep_len += 1
        if terminated or truncated:
            break
    return ep_ret, ep_len


def _episode_seed(seed: int, epoch: int, candidate: int, episode: int) -> int:
    return int(np.random.SeedSequence([seed, epoch, candidate, episode]).generate_state(1)[0])


def _check(pop_size: int, elite_frac: float, noise: float, hidden: int, epochs: int) -> int:
    """Validate the hyperparameters; return the number of elite candidates."""
    if epochs < 1:
        raise ValueError(f"epochs={epochs}: train for at least one epoch")
    if pop_size < 2:
        raise ValueError(f"pop_size={pop_size}: the population needs at least 2 candidates")
    if not 0.0 < elite_frac <= 1.0:
        raise ValueError(f"elite_frac={elite_frac} must lie in (0, 1], e.g. 0.2")
    n_elite = round(pop_size * elite_frac)
    if n_elite < 1:
        raise ValueError(
            f"elite_frac={elite_frac} keeps no candidate of pop_size={pop_size}: "
            f"use elite_frac >= {1 / pop_size:.3g}"
        )
    if noise < 0 or hidden < 0:
        raise ValueError(f"noise={noise} and hidden={hidden} must not be negative")
    return n_elite


def train(
    env_fn: Callable[[], Any],
    seed: int = 0,
    logger_kwargs: dict[str, Any] | None = None,
    epochs: int = 20,
    pop_size: int = 32,
    elite_frac: float = 0.2,
    init_std: float = 1.0,
    noise: float = 0.5,
    noise_decay: float = 0.8,
    hidden: int = 0,
    episodes_per_candidate: int = 1,
    max_ep_len: int = 500,
    epoch_callback: Callable[[int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Train a policy with the cross-entropy method; log each epoch with :class:`EpochLogger`.

    Args:
        env_fn: Builds the environment (gymnasium API).
        seed: Seed of the population and of the episodes.
        logger_kwargs: Keyword arguments of the logger (``output_dir``, ``exp_name``).
        epochs: Number of CEM iterations.
        pop_size: Candidates per epoch, split over the MPI ranks.
        elite_frac: Fraction of the population the Gaussian is refit to.
        init_std: Initial standard deviation of every parameter.
        noise: Extra standard deviation added at refit, against early collapse.
        noise_decay: Factor applied to ``noise`` after every epoch.
        hidden: Hidden units of the MLP policy; 0 for a linear policy.
        episodes_per_candidate: Episodes averaged to score one candidate.
        max_ep_len: Episode length limit (the environment's own limit applies too).
        epoch_callback: Called with the epoch number at the start of each epoch.

    Returns:
        The final Gaussian: ``{"mean": ..., "std": ...}`` over the policy parameters.
    """
    config = dict(locals())
    n_elite = _check(pop_size, elite_frac, noise, hidden, epochs)
    logger = EpochLogger(**(logger_kwargs or {}))
    logger.save_config(config)
    rank, size = proc_id(), num_procs()
    env = env_fn()
    env.action_space.seed(seed + 10000 * rank)
    policy = Policy(int(np.prod(env.observation_space.shape)), env.action_space, hidden)
    rng = np.random.default_rng(seed)  # the same stream on every rank
    mean = np.zeros(policy.size)
    std = np.full(policy.size, float(init_std))
    extra = float(noise)
    start, total_steps = time.time(), 0
    for epoch in range(epochs):
        if epoch_callback is not None:
            epoch_callback(epoch)
        thetas = mean + std * rng.standard_normal((pop_size, policy.size))
        scores, lengths = np.zeros(pop_size), np.zeros(pop_size)
        for i in range(rank, pop_size, size):
            for j in range(episodes_per_candidate):
                ep_ret, ep_len = run_episode(
                    env, policy, thetas[i], _episode_seed(seed, epoch, i, j), max_ep_len
                )
                logger.store(EpRet=ep_ret, EpLen=ep_len)
                scores[i] += ep_ret / episodes_per_candidate
                lengths[i] += ep_len
        scores, lengths = mpi_sum(scores), mpi_sum(lengths)
        total_steps += int(lengths.sum())
        elite = np.argsort(-scores, kind="stable")[:n_elite]
        mean = thetas[elite].mean(axis=0)
        std = np.sqrt(thetas[elite].var(axis=0) + extra**2)
        extra *= noise_decay

        logger.log_tabular("Epoch", epoch)
        logger.log_tabular("EpRet", with_min_and_max=True)
        logger.log_tabular("EpLen", average_only=True)
        logger.log_tabular("EliteEpRet", float(scores[elite].mean()))
        logger.log_tabular("PolicyStd", float(std.mean()))
        logger.log_tabular("TotalEnvInteracts", total_steps)
        logger.log_tabular("NumRanks", size)
        logger.log_tabular("Time", round(time.time() - start, 3))
        logger.dump_tabular()
    env.close()
    return {"mean": mean, "std": std}
