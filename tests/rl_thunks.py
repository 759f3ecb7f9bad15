"""A third-party PyTorch algorithm (stable-baselines3's PPO) behind the reference signature
``train(env_fn, seed, logger_kwargs, **hparams)``, logging as SpinningUp does."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable


def sb3_ppo(
    env_fn: Callable[[], Any],
    seed: int = 0,
    logger_kwargs: dict[str, Any] | None = None,
    total_timesteps: int = 256,
    n_steps: int = 64,
    lr: float = 3e-4,
) -> None:
    """Train PPO for ``total_timesteps`` steps; one progress row per rollout."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback

    from slc_tui.logx import EpochLogger

    logger = EpochLogger(**(logger_kwargs or {}))
    logger.save_config({"seed": seed, "total_timesteps": total_timesteps, "lr": lr})
    out = Path(logger.output_dir)
    (out / "threads.json").write_text(json.dumps({
        "torch": torch.get_num_threads(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "affinity": sorted(os.sched_getaffinity(0)),
    }))  # fmt: skip

    class Rows(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.epoch = 0

        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            self.epoch += 1
            rewards = [float(r) for r in self.model.rollout_buffer.rewards.flatten()]
            logger.log_tabular("Epoch", self.epoch)
            logger.log_tabular("AverageEpRet", sum(rewards) / max(len(rewards), 1))
            logger.log_tabular("TotalEnvInteracts", self.num_timesteps)
            logger.dump_tabular()

    model = PPO("MlpPolicy", env_fn(), n_steps=n_steps, batch_size=32, n_epochs=2,
                learning_rate=lr, seed=seed, device="cpu", verbose=0)  # fmt: skip
    model.learn(total_timesteps=total_timesteps, callback=Rows())
