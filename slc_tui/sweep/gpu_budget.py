"""The sweep's GPU budget, decided once: the devices, or None; checked against the runs."""

from __future__ import annotations

from collections.abc import Sequence

from slc_tui.errors import InputError, SweepError
from slc_tui.gpus import budget_problem, detect, share_problem, unknown_devices
from slc_tui.options import RunOptions
from slc_tui.plan import GridPlan


def gpu_budget(plans: Sequence[GridPlan], options: RunOptions) -> tuple[list[int] | None, str]:
    """The devices of the budget (None: no GPU budget) and what to say about it once
    (``"auto"`` that found none), checked against every run's ``gpus_per_run``.

    Raises:
        InputError: a budget or share that is no budget or share, a device NVML does not know.
        SweepError: a run asks for more devices than the budget has.
    """
    value = options.gpus
    if problem := budget_problem(value):
        raise InputError(f"gpus {value!r} {problem}")
    shares = [(plan, plan_share(plan)) for plan in plans]
    for plan, share in shares:
        if problem := share_problem(share):
            raise InputError(f"gpus_per_run {share!r} of grid {plan.name!r} {problem}")
    if options.backend == "slurm":
        return None, _on_slurm(shares, value)
    notice = ""
    devices: list[int] | None = None
    if value == "auto":
        devices, notice = detect()
    elif isinstance(value, list) and value:
        devices = list(value)
        if unknown := unknown_devices(devices):
            raise InputError(
                f"gpus {value!r} names device {unknown[0]}, which NVML does not know on this "
                "machine",
                cli='give ids that nvidia-smi lists, or gpus = "auto"',
                python="give ids that nvidia-smi lists, or gpus='auto'",
            )
    for plan, share in shares:  # without a GPU budget the runs' environments are left alone
        if devices and share > len(devices):
            raise SweepError(
                f"runs of {plan.source or plan.name} need {share:g} GPUs each but the GPU "
                f"budget has {len(devices)} ({', '.join(map(str, devices))})",
                cli="lower gpus_per_run in [grid], or give more devices to --gpus",
                python="lower gpus_per_run=, or give more devices to gpus=",
            )
    return devices or None, notice


def _on_slurm(shares: list[tuple[GridPlan, float]], value: object) -> str:
    """On a cluster each run asks Slurm for its whole devices (``[slurm] gpu_request``); the
    local budget does not apply. What to say of a ``gpus`` budget given anyway.

    Raises:
        InputError: a fraction of a device, which Slurm does not give.
    """
    for plan, share in shares:
        if 0 < share < 1:
            raise InputError(
                f"gpus_per_run {share:g} of grid {plan.name!r}: Slurm gives whole GPUs to a job",
                cli="give gpus_per_run = 1 or more for a Slurm sweep",
                python="give gpus_per_run=1 or more for a Slurm sweep",
            )
    if value != 0:
        return "[run] gpus is the local GPU budget; on Slurm each run asks for gpus_per_run"
    return ""


def plan_share(plan: GridPlan) -> float:
    """The GPU share of the plan's runs (every run of a grid asks for the same)."""
    runs = plan.runs
    return runs[0].gpus if len(runs) else 0.0
