"""``--dry-run``: the plan as text (summary, tree of runs, packing into the CPU budget)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO

from slc_tui.plan import GridPlan, Run, pack_waves
from slc_tui.sweep.fmt import display_path as _rel
from slc_tui.sweep.prepare import Sweep


def print_sweep(sweep: Sweep, out: IO[str]) -> None:
    """Print each grid as the reference does, then the plan of the whole sweep."""
    for spec in sweep.specs:
        spec.grid.print()
    print_plan(
        sweep.plans,
        sweep.budget,
        out,
        cluster=sweep.options.backend == "slurm",
        limited=sweep.options.max_cpus != "auto",
    )


def print_plan(
    plans: Sequence[GridPlan],
    budget: list[int],
    out: IO[str],
    *,
    cluster: bool = False,
    limited: bool = True,
) -> None:
    """Print every grid's runs as a tree grid -> variant -> run, then how they pack.

    On a cluster (``cluster``) the budget is CPUs of the cluster, not cores of this machine,
    and without ``max_cpus`` (not ``limited``) slc-tui sets no limit of its own.
    """
    runs = [r for p in plans for r in p.runs]
    for plan in plans:
        variants = {r.variant for r in plan.runs}
        out.write(
            f"\n{plan.name}  ({len(plan.runs)} runs, {len(variants)} variants"
            f"{', ' + plan.source if plan.source else ''})\n"
        )
        by_variant: dict[str, list[Run]] = {}
        for run in plan.runs:
            by_variant.setdefault(run.variant, []).append(run)
        groups = list(by_variant.items())
        for gi, (variant, group) in enumerate(groups):
            last_group = gi == len(groups) - 1
            ranks = group[0].num_cpu
            out.write(
                f"{'└─' if last_group else '├─'} {variant}  "
                f"({len(group)} run{'s' if len(group) != 1 else ''}, "
                f"{ranks} rank{'s' if ranks != 1 else ''} each)\n"
            )
            stem = "   " if last_group else "│  "
            width = max(len(r.name) for r in group)
            for ri, run in enumerate(group):
                branch = "└─" if ri == len(group) - 1 else "├─"
                out.write(f"{stem}{branch} {run.name.ljust(width)}  {_rel(run.output_dir)}\n")
    waves = pack_waves(runs, len(budget))
    if cluster and not limited:
        out.write("\nCPU budget: no limit of slc-tui's own on the cluster (the queue and "
                  "[slurm] max_jobs decide); if every run could start at once:")  # fmt: skip
    where = "of the cluster" if cluster else f"(cores {','.join(map(str, budget))})"
    sizes = sorted({min(r.num_cpu, len(budget)) for r in runs})
    widest = max((len(w) for w in waves), default=0)
    out.write(
        f"\n{'' if cluster and not limited else 'CPU budget: '}{len(budget)} cpus {where}; "
        "runs take "
        f"{'/'.join(map(str, sizes))} cpu{'s' if sizes != [1] else ''} each; "
        f"up to {widest} run{'s' if widest != 1 else ''} at a time, "
        f"{len(runs)} runs in {len(waves)} wave{'s' if len(waves) != 1 else ''} "
        "if runs take equally long\n"
    )
    for i, wave in enumerate(waves[:3], 1):
        out.write(f"  wave {i}: {', '.join(r.name for r in wave)}\n")
    if len(waves) > 3:
        out.write(f"  ... {len(waves) - 3} more waves\n")
    out.write("Nothing was run (--dry-run).\n")
