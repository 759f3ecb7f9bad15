"""A training function that fails on purpose, to show how slc-tui handles failing runs.

It is :func:`slc_tui.examples.cem.train` plus three hyperparameters: ``crash_mode``
(``"none"``; ``"raise"`` raises an exception, ``"exit"`` ends the rank's process abruptly with
no Python clean-up, as a segfault would, ``"hang"`` blocks forever, for timeouts),
``crash_rank`` (the MPI rank that fails) and ``crash_epoch`` (the epoch it fails at). A bad ``cem``
hyperparameter (``elite_frac=1.5``, say) raises ``ValueError`` before training starts.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable

from slc_tui.examples import cem
from slc_tui.mpi_tools import proc_id

CRASH_MODES = ("none", "raise", "exit", "hang")
"""The ways a rank can fail."""


class InjectedFailure(RuntimeError):
    """The failure this example was asked to produce."""


def _crash(mode: str, rank: int, epoch: int) -> None:
    if mode == "exit":
        print(f"rank {rank}: exiting abruptly at epoch {epoch} (crash_mode='exit')", flush=True)
        sys.stderr.flush()
        os._exit(3)
    if mode == "hang":
        print(f"rank {rank}: hanging at epoch {epoch} (crash_mode='hang')", flush=True)
        while True:
            time.sleep(3600)
    raise InjectedFailure(f"rank {rank} crashed at epoch {epoch} (crash_rank={rank})")


def train(
    env_fn: Callable[[], Any],
    seed: int = 0,
    logger_kwargs: dict[str, Any] | None = None,
    epochs: int = 10,
    crash_mode: str = "none",
    crash_rank: int = 0,
    crash_epoch: int = 2,
    **hparams: Any,
) -> dict[str, Any]:
    """Train with the cross-entropy method; rank ``crash_rank`` fails at ``crash_epoch``.

    A ``crash_rank`` the job lacks (rank 1 of a single-process run, say) never fails.

    Args:
        env_fn: Builds the environment.
        seed: Seed of the run.
        logger_kwargs: Keyword arguments of the logger.
        epochs: Number of epochs.
        crash_mode: ``"none"``, ``"raise"``, ``"exit"`` or ``"hang"``.
        crash_rank: The rank that fails.
        crash_epoch: The epoch at whose start it fails.
        **hparams: Further hyperparameters of :func:`slc_tui.examples.cem.train`.
    """
    if crash_mode not in CRASH_MODES:
        raise ValueError(f"crash_mode={crash_mode!r} must be one of {', '.join(CRASH_MODES)}")

    def maybe_crash(epoch: int) -> None:
        rank = proc_id()
        if crash_mode != "none" and rank == crash_rank and epoch == crash_epoch:
            _crash(crash_mode, rank, epoch)

    return cem.train(
        env_fn,
        seed=seed,
        logger_kwargs=logger_kwargs,
        epochs=epochs,
        epoch_callback=maybe_crash,
        **hparams,
    )
