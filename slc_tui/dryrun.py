"""``--dry-run``: the plan as text (summary, tree of runs, packing into the CPU budget, the
start order and, from an earlier sweep's ledger, the predicted finish).

A sweep of at most :data:`FULL_LIMIT` runs (or any sweep with ``--all``) is printed whole:
each grid as the reference prints it, then every run under its variant. A larger one is
summed up: per grid its counts, parameters, first and last run; then the packing. Either way
the work is linear in the number of runs, and the runs are read one at a time.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable, Sequence
from typing import IO

from slc_tui.cpus import MAX_BUDGET, pack_summary
from slc_tui.durations import Durations
from slc_tui.engine.forecast import forecast, known_of, planned
from slc_tui.plan import GridPlan, LazyRuns
from slc_tui.search import plan_lines
from slc_tui.sweep.fmt import display_path as _rel
from slc_tui.sweep.fmt import fmt_duration
from slc_tui.sweep.prepare import Sweep

FULL_LIMIT = 1000
"""Above this many runs in a sweep, ``--dry-run`` prints a summary (``--all``: every run)."""
SHOWN_PER_WAVE = 8
"""Runs named per wave in a summary."""
SHOWN_IN_ORDER = 16
"""Runs the start order names at least (more when the first three waves hold more)."""
ORDER_WORDS = {
    "plan": "plan order",
    "breadth": "round by round: the first seed of every variant, then the second, ...",
    "longest-first": "the longest predicted first, then the unknown in plan order",
    "auto": "one seed of every variant first, then the longest predicted first",
}
"""What each ``[run] order`` means, as the dry run says it."""


def print_sweep(sweep: Sweep, out: IO[str], every: bool = False) -> None:
    """Print each grid as the reference does, then the plan of the whole sweep (every run
    when the sweep has at most ``FULL_LIMIT`` runs or ``every``, else a summary)."""
    every = every or sum(len(p.runs) for p in sweep.plans) <= FULL_LIMIT
    if every:
        for spec in sweep.specs:
            spec.grid.print()
    if sweep.options.backend == "slurm":
        from slc_tui.engine.slurm_preview import print_batch_jobs

        print_batch_jobs(sweep.plans, sweep.options.slurm, sweep.options.mpiexec, out)
    print_plan(
        sweep.plans,
        sweep.budget,
        out,
        cluster=sweep.options.backend == "slurm",
        limited=sweep.options.max_cpus != "auto",
        every=every,
        gpus=sweep.gpus,
        order=sweep.options.order,
        known=known_of(sweep.ledger_paths) if every else None,
    )


def _variants(plan: GridPlan) -> int:
    runs = plan.runs
    if isinstance(runs, LazyRuns) and runs.fast:  # names are distinct: one variant per seed-set
        seeds = 1 if runs.seed_at is None else len(runs.grid.vals[runs.seed_at])
        return len(runs) // seeds
    return sum(1 for _ in plan.groups())


def _shown(data_dir: str) -> Callable[[str], str]:
    """``display_path`` for the folders inside ``data_dir``, without a relpath per run."""
    cwd, top = os.getcwd(), os.path.join(data_dir, "")
    if cwd.startswith(top):  # the current directory inside data_dir: rare, exact the slow way
        return _rel
    base = _rel(data_dir)
    if os.path.isabs(base):
        return lambda path: path
    head = "" if base == "." else os.path.join(base, "")
    return lambda path: head + path[len(top) :] if path.startswith(top) else _rel(path)


def _tree(plan: GridPlan, out: IO[str]) -> None:
    shown = _shown(plan.data_dir)
    ranks = plan.segments()[0][1] if len(plan.runs) else 1
    groups = plan.groups()
    group = next(groups, None)
    while group is not None:
        variant, rows = group
        group = next(groups, None)
        out.write(
            f"{'└─' if group is None else '├─'} {variant}  "
            f"({len(rows)} run{'s' if len(rows) != 1 else ''}, "
            f"{ranks} rank{'s' if ranks != 1 else ''} each)\n"
        )
        stem = "   " if group is None else "│  "
        width = max(len(name) for _, name, _ in rows)
        for ri, (_, name, output_dir) in enumerate(rows):
            branch = "└─" if ri == len(rows) - 1 else "├─"
            out.write(f"{stem}{branch} {name.ljust(width)}  {shown(output_dir)}\n")


def _summary(plan: GridPlan, out: IO[str]) -> None:
    if isinstance(plan.runs, LazyRuns):
        grid = plan.runs.grid
        sizes = ", ".join(f"{k} ({len(v):,})" for k, v in zip(grid.keys, grid.vals))
        out.write(f"   parameters (values): {sizes}\n")
    ranks = plan.segments()[0][1] if len(plan.runs) else 1
    ends = [("first", plan.runs[0]), ("last", plan.runs[-1])] if len(plan.runs) else []
    width = max((len(run.name) for _, run in ends), default=0)
    for label, run in ends:
        out.write(f"   {label:<5}  {run.name.ljust(width)}  {_rel(run.output_dir)}\n")
    out.write(f"   {ranks} rank{'s' if ranks != 1 else ''} each\n")


def print_plan(
    plans: Sequence[GridPlan],
    budget: list[int],
    out: IO[str],
    *,
    cluster: bool = False,
    limited: bool = True,
    every: bool = True,
    gpus: list[int] | None = None,
    order: str = "plan",
    known: Durations | None = None,
) -> None:
    """Print every grid's runs as a tree grid -> variant -> run (a summary of each grid
    unless ``every``), then how they pack, in which order they start (unless ``order`` is
    the plan's) and, when ``known`` (what an earlier sweep's ledgers teach) holds durations,
    when the sweep should end (or for how many runs a duration is known).

    On a cluster (``cluster``) the budget is CPUs of the cluster, not cores of this machine,
    and without ``max_cpus`` (not ``limited``) slc-tui sets no limit of its own. With a GPU
    budget (``gpus``) the waves are packed into cores and devices, each run shown with its own.
    """
    total = sum(len(p.runs) for p in plans)
    for plan in plans:
        out.write(
            f"\n{plan.name}  ({len(plan.runs):,} runs, {_variants(plan):,} variants"
            f"{', ' + plan.source if plan.source else ''})\n"
        )
        out.writelines(f"{line}\n" for line in plan_lines(plan.search))
        (_tree if every else _summary)(plan, out)
        if plan.early_stop:
            out.write(f"early stop: {plan.early_stop.describe()}\n")
    if not every:
        out.write(f"\nThe tree of all {total:,} runs: --dry-run --all.\n")
    segments = [seg for p in plans for seg in p.segments()]
    if not segments:  # only searches whose trials are asked while the sweep runs
        out.write("\nNothing was run (--dry-run).\n")
        return
    slots = len(budget)
    waves, widest, first = pack_summary(segments, slots, keep=3)
    if cluster and not limited and slots >= MAX_BUDGET:
        out.write(f"\nCPU budget: no limit of slc-tui's own on the cluster but its cap of "
                  f"{MAX_BUDGET:,} CPUs at once (the queue and [slurm] max_jobs decide); "
                  "if that many could start at once:")  # fmt: skip
    elif cluster and not limited:
        out.write("\nCPU budget: no limit of slc-tui's own on the cluster (the queue and "
                  "[slurm] max_jobs decide); if every run could start at once:")  # fmt: skip
    shown = ",".join(map(str, budget[:16])) + (f",... ({slots:,} slots)" if slots > 16 else "")
    where = "of the cluster" if cluster else f"(cores {shown})"
    sizes = sorted({min(cpus, slots) for _, cpus in segments})
    out.write(
        f"\n{'' if cluster and not limited else 'CPU budget: '}{slots:,} cpus {where}; "
        "runs take "
        f"{'/'.join(map(str, sizes))} cpu{'s' if sizes != [1] else ''} each; "
        f"up to {widest:,} run{'s' if widest != 1 else ''} at a time, "
        f"{total:,} runs in {waves:,} wave{'s' if waves != 1 else ''} "
        "if runs take equally long\n"
    )
    if gpus:
        _device_plan(plans, budget, gpus, out, every)
    else:
        _cpu_waves(plans, first, waves, out, every)
    if order != "plan" and not every:
        out.write(f"Start order: {order} ({ORDER_WORDS[order]}; the waves above are in plan "
                  "order); every run's: --dry-run --all.\n")  # fmt: skip
    elif every:
        named = max(sum(b - a for wave in first for a, b in wave), SHOWN_IN_ORDER)
        _print_order(plans, slots, order, known or Durations(), named, out)
    out.write("Nothing was run (--dry-run).\n")


def _print_order(
    plans: Sequence[GridPlan], slots: int, order: str, known: Durations, shown: int, out: IO[str]
) -> None:
    """The start order (its first ``shown`` runs) and, when durations are known, the finish."""
    records = planned(run for plan in plans for run in plan.runs)
    ahead = forecast(records, known, order, slots, now=0.0)
    if order != "plan":
        names = [r.name for r in ahead.order[:shown]]
        more = f", ... and {len(records) - len(names):,} more" if len(records) > len(names) else ""
        out.write(f"Start order: {order} ({ORDER_WORDS[order]}; the waves above are in plan "
                  f"order):\n  {', '.join(names)}{more}\n")  # fmt: skip
    if not len(known) or not records:
        return
    if ahead.finish is not None:
        out.write(f"Predicted finish: {fmt_duration(ahead.finish)} after the start, if every run "
                  "runs, as long as the earlier sweep's ledger predicts\n")  # fmt: skip
    else:
        out.write(f"Predicted finish: unknown; the ledger of an earlier sweep knows the duration "
                  f"of {len(records) - ahead.unknown:,} of {len(records):,} runs\n")  # fmt: skip


def _cpu_waves(
    plans: Sequence[GridPlan], first: list[list[tuple[int, int]]], waves: int, out: IO[str],
    every: bool,
) -> None:  # fmt: skip
    """The first waves of the CPU packing (``first``: ranges of plan positions), named."""
    starts = [0]
    for plan in plans:
        starts.append(starts[-1] + len(plan.runs))

    def name_at(pos: int) -> str:
        i = bisect.bisect_right(starts, pos) - 1
        return plans[i].runs[pos - starts[i]].name

    for i, wave in enumerate(first, 1):
        count = sum(b - a for a, b in wave)
        names = [name_at(p) for p in _first_positions(wave, count if every else SHOWN_PER_WAVE)]
        more = f", ... and {count - len(names):,} more" if count > len(names) else ""
        out.write(f"  wave {i}: {', '.join(names)}{more}\n")
    if waves > 3:
        out.write(f"  ... {waves - 3:,} more waves\n")


def _first_positions(wave: list[tuple[int, int]], cap: int) -> list[int]:
    out: list[int] = []
    for a, b in wave:
        out.extend(range(a, min(b, a + cap - len(out))))
        if len(out) >= cap:
            break
    return out


def _device_plan(
    plans: Sequence[GridPlan], budget: list[int], gpus: list[int], out: IO[str], every: bool
) -> None:
    """The GPU budget and the waves packed into cores and devices."""
    from slc_tui.sweep.gpu_budget import plan_share
    from slc_tui.sweep.waves import device_waves, grant_words

    shares = sorted({plan_share(p) for p in plans if len(p.runs)})
    words = "/".join(f"{s:g}" for s in shares)
    out.write(f"GPU budget: {len(gpus)} device{'s' if len(gpus) != 1 else ''} "
              f"({','.join(map(str, gpus))}); runs take {words} GPU each\n")  # fmt: skip
    waves = device_waves(plans, budget, gpus)
    counted = (f"{waves.count:,} wave{'s' if waves.count != 1 else ''}"
               if waves.count is not None else "the first waves")  # fmt: skip
    out.write(f"with cores and devices: up to {waves.widest:,} runs at a time, {counted} "
              "if runs take equally long\n")  # fmt: skip
    for i, wave in enumerate(waves.first, 1):
        shown = wave if every else wave[:SHOWN_PER_WAVE]
        names = [f"{plans[pi].runs[ri].name} ({grant_words(g)})" for pi, ri, g in shown]
        more = f", ... and {len(wave) - len(shown):,} more" if len(wave) > len(shown) else ""
        out.write(f"  wave {i}: {', '.join(names)}{more}\n")
    if waves.count is not None and waves.count > len(waves.first):
        out.write(f"  ... {waves.count - len(waves.first):,} more waves\n")
