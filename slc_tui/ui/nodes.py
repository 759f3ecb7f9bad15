"""What a node of the variant tree stands for: a grid, a variant or one run.

Each is a small frozen dataclass, so that the tree's nodes, the selection and the keys'
targets compare by value and are told apart by type.
"""

from __future__ import annotations

from dataclasses import dataclass

from slc_tui.sweep.state import RunKey, SweepState


@dataclass(frozen=True)
class GridNode:
    """A grid: every run of one ledger."""

    li: int
    """The ledger's index."""

    def keys(self, model: SweepState) -> list[RunKey]:
        """The grid's runs, in plan order."""
        return [k for k in model.runs if k[0] == self.li]


@dataclass(frozen=True)
class VariantNode:
    """A variant: the seeds of one parameter setting."""

    key: tuple[int, str]
    """(ledger index, variant name)."""

    def keys(self, model: SweepState) -> list[RunKey]:
        """The variant's runs, in plan order."""
        return list(model.variants.get(self.key, []))


@dataclass(frozen=True)
class RunNode:
    """One run."""

    key: RunKey
    """(ledger index, run name)."""

    def keys(self, model: SweepState) -> list[RunKey]:
        """The run itself, once the model knows it."""
        return [self.key] if self.key in model.runs else []


NodeData = GridNode | VariantNode | RunNode
"""What a tree node holds."""
