"""The variant tree: grid -> variant -> one leaf per seed run, filtered, searched and sorted.

Variant nodes fill their seed leaves only when first expanded, so a grid of 10,000 runs opens
without building 10,000 nodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from slc_tui.sweep.state import RunKey, SweepState
from slc_tui.ui.labels import run_label
from slc_tui.ui.nodes import GridNode, NodeData, RunNode, VariantNode
from slc_tui.ui.tree_view import FILTERS, SORTS, TreeView, grid_label, variant_label

Node = TreeNode[NodeData]
AUTO_EXPAND = 300
"""Variants open by themselves when the tree shows at most this many runs."""


class VariantTree(Tree[NodeData]):
    """Every run of the sweep, grouped by grid and variant.

    The cursor's moves go up as :class:`VariantTree.Chosen`; the screen puts the cursor
    somewhere with :meth:`place` (not a move of the user's) and changes what shows with
    :meth:`cycle_filter`, :meth:`cycle_sort` and :meth:`set_search`, then :meth:`rebuild`.
    """

    @dataclass
    class Chosen(Message):
        """The cursor rests on a new node (coalescing: only the latest of quick moves counts)."""

        data: NodeData
        """What the node stands for."""
        by_user: bool
        """Whether the user moved there (not :meth:`VariantTree.place`)."""

        def can_replace(self, message: Message) -> bool:
            """A newer move supersedes an older one."""
            return isinstance(message, VariantTree.Chosen)

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("K", "cursor_up", "Up", show=False),
        Binding("h", "collapse_or_parent", "Collapse", show=False),
        Binding("l", "expand_node", "Expand", show=False),
        Binding("g", "scroll_home", "Top", show=False),
        Binding("G", "scroll_end", "Bottom", show=False),
    ]

    def __init__(self, model: SweepState, **kwargs: Any) -> None:
        super().__init__("sweep", **kwargs)
        self.show_root = False
        self.guide_depth = 2
        self.model = model
        """The sweep the tree shows."""
        self.view = TreeView()
        """The filter, search and order of the tree."""
        self._grids: dict[int, Node] = {}
        self._variants: dict[tuple[int, str], Node] = {}
        self._runs: dict[RunKey, Node] = {}
        self._collapsed: set[tuple[int, str]] = set()
        self._opened: set[tuple[int, str]] = set()
        self._seed_width: dict[tuple[int, str], int] = {}
        self._placed: NodeData | None = None
        self._wanted: NodeData | None = None

    # -- the nodes built (read-only views) --------------------------------------------------
    @property
    def grid_nodes(self) -> Mapping[int, Node]:
        """The grid nodes, by ledger index."""
        return MappingProxyType(self._grids)

    @property
    def variant_nodes(self) -> Mapping[tuple[int, str], Node]:
        """The variant nodes shown, by (ledger index, variant name)."""
        return MappingProxyType(self._variants)

    @property
    def run_nodes(self) -> Mapping[RunKey, Node]:
        """The seed leaves built so far (only opened variants have theirs), by run key."""
        return MappingProxyType(self._runs)

    # -- what shows -------------------------------------------------------------------------
    def cycle_filter(self) -> None:
        """Take the next state filter (call :meth:`rebuild` after)."""
        self.view.filter_index = (self.view.filter_index + 1) % len(FILTERS)
        self.border_subtitle = self.view.subtitle()

    def cycle_sort(self) -> None:
        """Take the next order of variants (call :meth:`rebuild` after)."""
        self.view.sort_index = (self.view.sort_index + 1) % len(SORTS)
        self.border_subtitle = self.view.subtitle()

    def set_search(self, text: str) -> None:
        """Show only runs whose name holds ``text`` (call :meth:`rebuild` after)."""
        self.view.search = text.strip()
        self.border_subtitle = self.view.subtitle()

    def shows(self, key: RunKey) -> bool:
        """Whether run ``key`` passes the filter and the search."""
        return self.view.shows(self.model, key)

    def _variant_keys(self, vkey: tuple[int, str]) -> list[RunKey]:
        return [k for k in self.model.variants[vkey] if self.shows(k)]

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
            grid = self.root.add(grid_label(self.model, li), data=GridNode(li), expand=True)
            self._grids[li] = grid
            for vkey in self.view.sorted_variants(self.model, li):
                if not self._variant_keys(vkey):
                    continue
                expand = vkey not in self._collapsed and (
                    shown <= AUTO_EXPAND or vkey in self._opened
                )
                node = grid.add(variant_label(self.model, vkey), data=VariantNode(vkey))
                self._variants[vkey] = node
                if expand:
                    self._fill(node)
                    node.expand()
        if selected is not None:
            self.select_data(selected)

    def rebuild_keeping(self, selected: NodeData | None) -> NodeData | None:
        """Rebuild, keeping the cursor on ``selected``; return where the cursor went.

        When ``selected`` no longer shows, the cursor goes to the first run shown (or the
        first grid). The node the user chose is remembered until they move: it comes back
        once a later filter or search shows it again.
        """
        self.rebuild()
        wanted = self._wanted or selected
        target = wanted
        if target is None or not self.holds(target):
            target = self.first_run() or (GridNode(0) if self.model.ledgers else None)
        if target is not None:
            self.place(target)
        self._wanted = None if target == wanted else wanted
        return target

    def _fill(self, node: Node) -> None:
        assert isinstance(node.data, VariantNode)
        vkey = node.data.key
        if node.children:
            return
        keys = self._variant_keys(vkey)
        width = max((len(str(self.model.runs[k].seed)) + 1 for k in keys), default=2)
        self._seed_width[vkey] = width
        for key in keys:
            leaf = node.add_leaf(run_label(self.model.runs[key], width), data=RunNode(key))
            self._runs[key] = leaf

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[NodeData]) -> None:
        """Fill a variant's seed leaves the first time it opens."""
        data = event.node.data
        if isinstance(data, VariantNode):
            self._collapsed.discard(data.key)
            self._opened.add(data.key)
            self._fill(event.node)

    def on_tree_node_collapsed(self, event: Tree.NodeCollapsed[NodeData]) -> None:
        """Remember a variant the user closed, so rebuilds keep it closed."""
        data = event.node.data
        if isinstance(data, VariantNode):
            self._collapsed.add(data.key)
            self._opened.discard(data.key)

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
                self._variants[vkey].set_label(variant_label(self.model, vkey))
        for li in grids:
            self._grids[li].set_label(grid_label(self.model, li))
        return True

    # -- selection --------------------------------------------------------------------------
    def select_data(self, data: NodeData) -> None:
        """Move the cursor to the node holding ``data`` (opening its variant if needed)."""
        node: Node | None = None
        if isinstance(data, RunNode):
            run = self.model.runs.get(data.key)
            vnode = self._variants.get((data.key[0], run.variant)) if run else None
            if vnode is not None:
                self._fill(vnode)
                vnode.expand()
            node = self._runs.get(data.key)
        elif isinstance(data, VariantNode):
            node = self._variants.get(data.key)
        else:
            node = self._grids.get(data.li)
        if node is not None:
            _ = self.last_line  # lays the lines out: a node just added has no line before
            self.move_cursor(node)

    def place(self, data: NodeData) -> None:
        """Put the cursor on ``data`` for the user: its :class:`Chosen` is not theirs."""
        self._placed = data
        self._wanted = None
        self.select_data(data)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[NodeData]) -> None:
        """Tell the screen where the cursor rests (only the latest of quick moves)."""
        event.stop()
        data = event.node.data
        if event.node is not self.cursor_node or data is None:
            return  # the cursor has moved on since: a newer event follows
        by_user = data != self._placed
        if by_user:
            self._wanted = None
        self.post_message(self.Chosen(data, by_user))

    def holds(self, data: NodeData) -> bool:
        """Whether the tree shows the node of ``data`` (a run must pass filter and search)."""
        if isinstance(data, RunNode):
            return data.key in self.model.runs and self.shows(data.key)
        if isinstance(data, VariantNode):
            return data.key in self._variants
        return data.li in self._grids

    def first_run(self) -> RunNode | None:
        """The first run the tree shows, in its order (None when it shows none)."""
        for vkey in self._variants:
            keys = self._variant_keys(vkey)
            if keys:
                return RunNode(keys[0])
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
