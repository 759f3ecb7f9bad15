"""A real third-party PyTorch algorithm (stable-baselines3's PPO) trained through a grid file.

Slow (torch takes about a second to import); skipped, saying why, where torch or
stable-baselines3 cannot be installed (``.ci/run`` installs torch's CPU wheel when it can).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from engine_helpers import cli

pytest.importorskip("torch", reason="torch is not installed (CPU wheel: see NOTES.md)")
pytest.importorskip("stable_baselines3", reason="stable-baselines3 is not installed")

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_leftovers")]
THUNKS = Path(__file__).with_name("rl_thunks.py")


def test_sb3_ppo_trains_through_a_grid_file_with_omp_threads_honoured(in_tmp: Path) -> None:
    (in_tmp / "ppo.toml").write_text(
        f'[grid]\nname = "ppo"\nthunk = "{THUNKS}:sb3_ppo"\ndata_dir = "data"\n'
        '[params]\nenv_name = "CartPole-v1"\nseed = [0, 1]\ntotal_timesteps = 256\n'
        'lr = { values = [3e-4, 1e-3], shorthand = "lr" }\n'
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cli("ppo.toml", "--no-ui"), capture_output=True, text=True, env=env,
                         stdin=subprocess.DEVNULL, timeout=600)  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "4 runs: 4 succeeded" in res.stdout
    folders = sorted(Path("data").glob("ppo_lr*/ppo_lr*_s*"))
    assert [f.name for f in folders] == [
        "ppo_lr0-0003_s0", "ppo_lr0-0003_s1", "ppo_lr0-001_s0", "ppo_lr0-001_s1",
    ]  # fmt: skip
    for folder in folders:
        rows = (folder / "progress.txt").read_text().splitlines()
        assert rows[0].split("\t")[:2] == ["Epoch", "AverageEpRet"] and len(rows) == 5
        threads = json.loads((folder / "threads.json").read_text())
        assert threads["OMP_NUM_THREADS"] == "1" and threads["torch"] == 1
        assert len(threads["affinity"]) == 1  # pinned to its own core
