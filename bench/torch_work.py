"""A real PyTorch training for the thread benchmark: an MLP fit by Adam for a fixed number
of steps (fixed work, so a run that shares its core takes longer, as real training would)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def train(
    steps: int = 300,
    hidden: int = 256,
    batch: int = 512,
    uncap: bool = False,
    seed: int = 0,
    logger_kwargs: Any = None,
    **_: Any,
) -> None:
    """``steps`` Adam steps of a 3-layer MLP on random regression data. ``uncap`` drops the
    thread variables before torch is imported: the run then starts what torch starts by
    itself (as every run did before slc-tui set them)."""
    if uncap:
        for var in THREAD_VARS:
            os.environ.pop(var, None)
    start = time.perf_counter()
    import torch

    torch.manual_seed(seed)
    x, y = torch.randn(4096, 64), torch.randn(4096, 1)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, hidden), torch.nn.ReLU(),
        torch.nn.Linear(hidden, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1),
    )  # fmt: skip
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    for step in range(steps):
        i = (step * batch) % 4096
        loss = torch.nn.functional.mse_loss(model(x[i : i + batch]), y[i : i + batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    out = Path(logger_kwargs["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "threads": torch.get_num_threads(),
        "interop": torch.get_num_interop_threads(),
        "os_threads": len(os.listdir("/proc/self/task")),
        "train_s": time.perf_counter() - t0,
        "total_s": time.perf_counter() - start,
        "affinity": sorted(os.sched_getaffinity(0)),
        "omp": os.environ.get("OMP_NUM_THREADS"),
    }
    (out / "torch.json").write_text(json.dumps(record))
