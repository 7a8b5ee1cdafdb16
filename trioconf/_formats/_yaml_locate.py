"""YAML: positions from the composed node tree, for ``locate`` and for non-string keys.

Composed nodes keep their marks (line, column), so locating a path is a walk down the node
tree, following ``<<`` merge keys the way the constructor does.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ._position import Path
from ._yaml import _yaml_answer

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STRING_KEY_TAGS = {"tag:yaml.org,2002:str", _MERGE_TAG}


def _yaml_locate(text: str, target: Path) -> tuple[int, int] | None:
    found = _yaml_node(text, target)
    if found is None:
        return None
    mark = found[1]
    return mark.line + 1, mark.column + 1


def _yaml_odd_key(text: str, parent: Path) -> tuple[int, int] | None:
    """Where the first key that does not construct to a string (``1:``, ``null:``) is."""
    try:
        found = _yaml_node(text, parent)
        if found is None or not isinstance(found[0], MappingNode):
            return None
        for key, _ in found[0].value:
            if not isinstance(key, ScalarNode) or str(key.tag) not in _STRING_KEY_TAGS:
                return key.start_mark.line + 1, key.start_mark.column + 1
    except Exception:
        return None
    return None


def _yaml_node(text: str, target: Path) -> tuple[Node, Any] | None:
    # The node tree of the loader whose data parse gave (the pure one for a document libyaml
    # refuses), after the same pre-pass: it refuses what would crash the C composer (deep
    # nesting) or make the walk explode (alias bombs); such a document has nothing to point into.
    node: Node | None = _yaml_answer(text, "", compose=True)
    if node is None:
        return None
    mark = node.start_mark
    for item in target:
        found = _yaml_child(node, item)
        if found is None:
            return None
        node, mark = found
    return node, mark


def _yaml_child(node: Node, item: str | int) -> tuple[Node, Any] | None:
    """The child node at ``item`` and the mark to report (a mapping entry's key)."""
    if isinstance(node, SequenceNode) and isinstance(item, int):
        if 0 <= item < len(node.value):
            child = node.value[item]
            return child, child.start_mark
        return None
    if not isinstance(node, MappingNode) or not isinstance(item, str):
        return None
    merged: list[Node] = []
    for key, value in node.value:
        if isinstance(key, ScalarNode) and key.value == item and str(key.tag) != _MERGE_TAG:
            return value, key.start_mark
        if isinstance(key, ScalarNode) and str(key.tag) == _MERGE_TAG:
            merged.extend(value.value if isinstance(value, SequenceNode) else [value])
    # `<<: *defaults` supplies keys the mapping does not write itself.
    for source in merged:
        found = _yaml_child(source, item)
        if found is not None:
            return found
    return None
