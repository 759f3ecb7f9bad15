"""Training functions for the search tests: a known objective, written as a progress file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def quadratic(x: float, seed: int, logger_kwargs: dict[str, Any], **kwargs: Any) -> None:
    """Progress whose final ``Score`` is ``-(x - 3)^2`` (plus ``seed / 1000``); the kwargs
    go to ``config.json`` as the reference's logger writes them."""
    out = Path(logger_kwargs["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    config = {"x": x, "seed": seed, **kwargs, "exp_name": logger_kwargs["exp_name"]}
    (out / "config.json").write_text(json.dumps(config))
    score = -((x - 3.0) ** 2) + seed / 1000
    (out / "progress.txt").write_text(f"Epoch\tScore\n1\t-100\n2\t{score!r}\n")
