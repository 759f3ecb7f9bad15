"""The variant tree: grid -> variant -> one leaf per seed run, filtered, searched and sorted.

Variant nodes fill their seed leaves only when first expanded, so a grid of 10,000 runs opens
without building 10,000 nodes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from slc_tui.states import RunState
from slc_tui.sweep.fmt import fmt_num, run_metric, short_metric
from slc_tui.sweep.state import RunKey, SweepState
from slc_tui.ui.labels import group_label, run_label, variant_display

NodeData = tuple[str, Any]
"""``("grid", li)``, ``("variant", (li, variant))`` or ``("run", (li, name))``."""
Node = TreeNode[NodeData]
FILTERS: list[tuple[str, frozenset[str] | None]] = [
    ("all", None),
    ("running", frozenset({RunState.RUNNING})),
    ("failed", frozenset({RunState.FAILED, RunState.LOST, RunState.CANCELLED})),
    ("pending", frozenset({RunState.PENDING})),
    ("done", frozenset({RunState.SUCCEEDED})),
]
"""What ``f`` cycles through: a name and the states it shows."""
SORTS = ("plan", "metric", "failures", "name")
"""What ``s`` cycles through: the order of variants in the tree."""
AUTO_EXPAND = 300
"""Variants open by themselves when the tree shows at most this many runs."""


class VariantTree(Tree[NodeData]):
    """Every run of the sweep, grouped by grid and variant."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("K", "cursor_up", "Up", show=False),
        Binding("h", "collapse_or_parent", "Collapse", show=False),
        Binding("l", "expand_node", "Expand", show=False),
        Binding("g", "scroll_home", "Top", show=False),
        Binding("G", "scroll_end", "Bottom", show=False),
    ]

    DEFAULT_CSS = """
    VariantTree {
        scrollbar-size-vertical: 1;
        scrollbar-size-horizontal: 0;
    }
    """

    def __init__(self, model: SweepState, **kwargs: Any) -> None:
        super().__init__("sweep", **kwargs)
        self.show_root = False
        self.guide_depth = 2
        self.model = model
        """The sweep the tree shows."""
        self.filter_index = 0
        """Index into :data:`FILTERS`."""
        self.search = ""
        """Case-insensitive substring a run's name must hold (empty: all)."""
        self.sort_index = 0
        """Index into :data:`SORTS`."""
        self._grids: dict[int, Node] = {}
        self._variants: dict[tuple[int, str], Node] = {}
        self._runs: dict[RunKey, Node] = {}
        self._collapsed: set[tuple[int, str]] = set()
        self._opened: set[tuple[int, str]] = set()
        self._seed_width: dict[tuple[int, str], int] = {}

    # -- what shows -------------------------------------------------------------------------
    @property
    def filter_name(self) -> str:
        """The name of the state filter in use."""
        return FILTERS[self.filter_index][0]

    @property
    def sort_name(self) -> str:
        """The name of the variant order in use."""
        return SORTS[self.sort_index]

    def shows(self, key: RunKey) -> bool:
        """Whether run ``key`` passes the filter and the search."""
        states = FILTERS[self.filter_index][1]
        run = self.model.runs[key]
        if states is not None and run.state not in states:
            return False
        return not self.search or self.search.lower() in run.name.lower()

    def _variant_keys(self, vkey: tuple[int, str]) -> list[RunKey]:
        return [k for k in self.model.variants[vkey] if self.shows(k)]

    def _sorted_variants(self, li: int) -> list[tuple[int, str]]:
        vkeys = [v for v in self.model.variants if v[0] == li]
        mode = self.sort_name
        if mode == "name":
            vkeys.sort(key=lambda v: v[1])
        elif mode == "metric":
            vkeys.sort(key=lambda v: -(self.variant_mean(v) or (float("-inf"), 0))[1])
        elif mode == "failures":
            summaries = {v: self.model.summary(self.model.variants[v]).states for v in vkeys}
            vkeys.sort(
                key=lambda v: (-summaries[v][RunState.FAILED], -summaries[v][RunState.RUNNING])
            )
        return vkeys

    def variant_mean(self, vkey: tuple[int, str]) -> tuple[str, float] | None:
        """The mean of the main metric over the variant's runs that reported one."""
        values: list[float] = []
        name = ""
        for key in self.model.variants[vkey]:
            metric = run_metric(self.model.runs[key])
            if metric and isinstance(metric[1], (int, float)):
                name = metric[0]
                values.append(float(metric[1]))
        return (name, sum(values) / len(values)) if values else None

    def _variant_label(self, vkey: tuple[int, str]) -> Any:
        mean = self.variant_mean(vkey)
        metric = f"{short_metric(mean[0])} {fmt_num(mean[1])}" if mean else ""
        name = variant_display(vkey[1], self.model.grid_name(vkey[0]))
        return group_label(name, self.model.summary(self.model.variants[vkey]), metric)

    def _grid_label(self, li: int) -> Any:
        keys = [k for k in self.model.runs if k[0] == li]
        return group_label(self.model.grid_name(li), self.model.summary(keys))

    # -- building ---------------------------------------------------------------------------
    def rebuild(self) -> None:
        """Build the tree again from the model (after a filter, search, sort or new runs)."""
        selected = self.cursor_node.data if self.cursor_node else None
        self.clear()
        self._grids.clear()
        self._variants.clear()
        self._runs.clear()
        shown = sum(1 for k in self.model.runs if self.shows(k))
        for li in range(len(self.model.ledgers)):
            grid = self.root.add(self._grid_label(li), data=("grid", li), expand=True)
            self._grids[li] = grid
            for vkey in self._sorted_variants(li):
                if not self._variant_keys(vkey):
                    continue
                expand = vkey not in self._collapsed and (
                    shown <= AUTO_EXPAND or vkey in self._opened
                )
                node = grid.add(self._variant_label(vkey), data=("variant", vkey))
                self._variants[vkey] = node
                if expand:
                    self._fill(node)
                    node.expand()
        if selected is not None:
            self.select_data(selected)

    def _fill(self, node: Node) -> None:
        assert node.data is not None
        vkey = node.data[1]
        if node.children:
            return
        keys = self._variant_keys(vkey)
        width = max((len(str(self.model.runs[k].seed)) + 1 for k in keys), default=2)
        self._seed_width[vkey] = width
        for key in keys:
            leaf = node.add_leaf(run_label(self.model.runs[key], width), data=("run", key))
            self._runs[key] = leaf

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[NodeData]) -> None:
        """Fill a variant's seed leaves the first time it opens."""
        data = event.node.data
        if data and data[0] == "variant":
            self._collapsed.discard(data[1])
            self._opened.add(data[1])
            self._fill(event.node)

    def on_tree_node_collapsed(self, event: Tree.NodeCollapsed[NodeData]) -> None:
        """Remember a variant the user closed, so rebuilds keep it closed."""
        data = event.node.data
        if data and data[0] == "variant":
            self._collapsed.add(data[1])
            self._opened.discard(data[1])

    def update_runs(self, changed: set[RunKey]) -> bool:
        """Refresh the labels of changed runs; return False when the tree needs a rebuild."""
        variants: set[tuple[int, str]] = set()
        grids: set[int] = set()
        for key in changed:
            run = self.model.runs[key]
            vkey = (key[0], run.variant)
            vnode = self._variants.get(vkey)
            if vnode is None:
                if self.shows(key):
                    return False
                continue
            if vnode.children:
                leaf = self._runs.get(key)
                if (leaf is not None) != self.shows(key):
                    return False
                if leaf is not None:
                    leaf.set_label(run_label(run, self._seed_width.get(vkey, 4)))
            elif not self._variant_keys(vkey):
                return False
            variants.add(vkey)
            grids.add(key[0])
        for vkey in variants:
            if vkey in self._variants:
                self._variants[vkey].set_label(self._variant_label(vkey))
        for li in grids:
            self._grids[li].set_label(self._grid_label(li))
        return True

    # -- selection --------------------------------------------------------------------------
    def select_data(self, data: NodeData) -> None:
        """Move the cursor to the node holding ``data`` (opening its variant if needed)."""
        node: Node | None = None
        if data[0] == "run":
            run = self.model.runs.get(data[1])
            vnode = self._variants.get((data[1][0], run.variant)) if run else None
            if vnode is not None:
                self._fill(vnode)
                vnode.expand()
            node = self._runs.get(data[1])
        elif data[0] == "variant":
            node = self._variants.get(data[1])
        elif data[0] == "grid":
            node = self._grids.get(data[1])
        if node is not None:
            self._tree_lines  # noqa: B018 -- lay the lines out first: a new node has no line yet
            self.move_cursor(node)

    def holds(self, data: NodeData) -> bool:
        """Whether the tree shows the node of ``data`` (a run must pass filter and search)."""
        if data[0] == "run":
            return data[1] in self.model.runs and self.shows(data[1])
        if data[0] == "variant":
            return data[1] in self._variants
        return data[1] in self._grids

    def first_run(self) -> NodeData | None:
        """The first run the tree shows, in its order (None when it shows none)."""
        for vkey in self._variants:
            keys = self._variant_keys(vkey)
            if keys:
                return ("run", keys[0])
        return None

    def action_collapse_or_parent(self) -> None:
        """Close the node under the cursor, or go to its parent."""
        node = self.cursor_node
        if node is None:
            return
        if node.is_expanded:
            node.collapse()
        elif node.parent is not None and node.parent is not self.root:
            self.move_cursor(node.parent)

    def action_expand_node(self) -> None:
        """Open the node under the cursor."""
        if self.cursor_node is not None and self.cursor_node.allow_expand:
            self.cursor_node.expand()
