"""YAML with bounds: aliases cannot blow a small text up into a huge value.

Takes: YAML text (``str``, ``bytes`` or a stream) and a PyYAML loader class (default: the safe
loader, in C when PyYAML has it). Gives: ``load_bounded(source, loader, max_nodes)``, the value
``yaml.load`` would give, after checking that aliases expand the document to at most
``max(max_nodes, its own node count)`` nodes (a big document without aliases is bounded by its
text; only aliases multiply) and refer to no node that contains them; ``expanded_size(root,
limit)`` (the node count once aliases are expanded, for ``document``); ``YamlLimitError``.
One loader for specs (``document``), ``yaml_parse`` on API data and cassettes (``connect``).
Raises: ``YamlLimitError`` (a ``yaml.MarkedYAMLError``: code that catches YAML errors catches
it, with the line of the document's start) for an alias bomb or recursive aliases, and what the
loader raises for bad YAML (libyaml stops nesting deeper than 1,000 levels itself). Reads only
the stream it is given.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_NODES = 500_000

SafeLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlLimitError(yaml.MarkedYAMLError):
    """Aliases that expand past the bound, or refer to a node that contains them."""

    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem=problem, problem_mark=mark)


def children(node: yaml.Node) -> list[yaml.Node]:
    """The nodes directly inside ``node`` (keys and values of a mapping)."""
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def expanded_size(root: yaml.Node, limit: int) -> int | None:
    """Nodes the document has once aliases are expanded, capped at ``limit + 1``; None when an
    alias refers to a node that contains it (a recursive document)."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        inside = children(node)
        if children_done:
            sizes[key] = min(1 + sum(sizes[id(c)] for c in inside), limit + 1)
            open_nodes.discard(key)
            continue
        if key in open_nodes:  # reached again from one of its own descendants
            return None
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in inside if id(c) not in sizes)
    return sizes[id(root)]


def _own_nodes(root: yaml.Node) -> tuple[int, bool]:
    """Distinct nodes of the document, and whether any is reached twice (an alias)."""
    seen: set[int] = set()
    shared = False
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            shared = True
            continue
        seen.add(id(node))
        stack.extend(children(node))
    return len(seen), shared


def check_aliases(root: yaml.Node, max_nodes: int = MAX_NODES) -> None:
    """Raise ``YamlLimitError`` when aliases expand ``root`` past ``max(max_nodes, its own
    nodes)`` or refer to a node that contains them."""
    own, shared = _own_nodes(root)
    if not shared:
        return
    limit = max(max_nodes, own)
    size = expanded_size(root, limit)
    if size is None:
        raise YamlLimitError(
            "an alias refers to a node that contains it (recursive YAML)", root.start_mark
        )
    if size > limit:
        raise YamlLimitError(
            f"aliases expand the document to more than {limit} nodes (YAML alias bomb?)",
            root.start_mark,
        )


def load_bounded(source: Any, loader: type[Any] = SafeLoader, max_nodes: int = MAX_NODES) -> Any:
    """``yaml.load(source, Loader=loader)``, refusing alias bombs and recursive aliases."""
    reader = loader(source)
    try:
        node = reader.get_single_node()
        if node is None:
            return None
        check_aliases(node, max_nodes)
        return reader.construct_document(node)
    finally:
        reader.dispose()
