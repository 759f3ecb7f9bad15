"""How a sweep with a GPU budget packs: the runs that start together when runs take equally
long, each with its cores and devices, as the engine's :class:`~slc_tui.engine.slots.Resources`
would grant them in plan order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slc_tui.engine.slots import Grant, Resources
from slc_tui.plan import GridPlan

COUNT_LIMIT = 100_000
"""Above this many runs the waves are not all counted (the first ones are still shown)."""


@dataclass
class Waves:
    """The first waves (each ``(plan index, run index, grant)`` per run) and their count."""

    first: list[list[tuple[int, int, Grant]]]
    count: int | None
    """How many waves in all (None: the sweep is too big to count them)."""
    widest: int
    """Most runs in one of the waves counted."""


def device_waves(
    plans: Sequence[GridPlan], budget: list[int], gpus: list[int], keep: int = 3
) -> Waves:
    """The waves of ``plans`` in ``budget`` cores and ``gpus`` devices. Every run of a grid
    has the same shape (ranks, GPU share), so a grid whose next run does not fit is passed
    over for the rest of the wave; linear in the number of runs."""
    total = sum(len(p.runs) for p in plans)
    done = [0] * len(plans)
    first: list[list[tuple[int, int, Grant]]] = []
    count = widest = 0
    while any(d < len(p.runs) for d, p in zip(done, plans)):
        if len(first) >= keep and total > COUNT_LIMIT:
            return Waves(first, None, widest)
        resources, wave = Resources(budget, gpus), []
        for pi, plan in enumerate(plans):
            while done[pi] < len(plan.runs) and not resources.exhausted():
                grant = resources.take(plan.runs[done[pi]])
                if grant is None:
                    break
                wave.append((pi, done[pi], grant))
                done[pi] += 1
        count += 1
        widest = max(widest, len(wave))
        if len(first) < keep:
            first.append(wave)
    return Waves(first, count, widest)


def grant_words(grant: Grant) -> str:
    """``gpu 0`` / ``gpus 0,1`` / ``no gpu`` for a run in a wave."""
    if not grant.gpus:
        return "no gpu"
    return f"gpu{'s' if len(grant.gpus) > 1 else ''} {','.join(map(str, grant.gpus))}"
