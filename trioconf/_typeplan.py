"""Where values of one type lie in a config class, and rewriting a document at those places.

Some field types want their value adjusted before structuring, from what only the layer knows:
a relative ``Path`` against its file's directory (``_anchor``), a ``Decimal`` from the number
as the file spells it (``_exact``). Both rewrite a parsed document where its layer is made,
at the positions the config class gives that type, so every build route sees the result.

``plan(cls, leaf, others)`` works those positions out once per class: a tree of field names
for a class, indexes for a fixed tuple, "every key or item" for a mapping or a list, and the
members of a union. A class with no ``leaf`` anywhere has no plan (None), and its documents
are not walked at all. ``others`` names the types that would take the same value first in a
union (``str | Path``: a string is a ``str``), where the value is left as written.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, TypeVar, get_args, get_origin

from ._kinds import _is_class, _is_mapping, _is_sequence, _is_tuple, _is_union
from ._marks import field_types as _field_types

D = TypeVar("D")
Change = Callable[[Any, tuple[Any, ...]], Any]
"""Given a value at a ``leaf`` position and its path, the value to put there instead."""


class Plan:
    """The ``leaf`` positions under one type: ``hit`` when a value here is a ``leaf``;
    ``fields`` by key (a class's fields, a fixed tuple's indexes); ``items`` for every key or
    item of a mapping or a list; ``arms``, the plans of a union's class and container members,
    each applied in turn. A recursive class makes a plan with cycles."""

    __slots__ = ("arms", "fields", "hit", "items", "other")

    def __init__(self) -> None:
        self.hit = False
        self.other = False  # another type takes the same values here: leave them as written
        self.fields: dict[str | int, Plan] = {}
        self.items: Plan | None = None
        self.arms: list[Plan] = []


def plan(tp: Any, leaf: type, others: Callable[[Any], bool]) -> Plan | None:
    """Where ``leaf`` values (or its subclasses') lie in a ``tp``; None when nowhere.
    ``others(t)``: whether a scalar type ``t`` takes the values a ``leaf`` would."""
    try:
        return _plan(tp, leaf, others)
    except TypeError:  # an unhashable annotation: nothing to cache, work it out again
        return _prune(_build(tp, leaf, others, {}))


@functools.lru_cache(maxsize=256)
def _plan(tp: Any, leaf: type, others: Callable[[Any], bool]) -> Plan | None:
    return _prune(_build(tp, leaf, others, {}))


def _build(tp: Any, leaf: type, others: Callable[[Any], bool], classes: dict[Any, Plan]) -> Plan:
    tp = _strip(tp)
    node = Plan()
    if isinstance(tp, type) and issubclass(tp, leaf):
        node.hit = True
    elif _is_union(tp):
        arms = [_strip(arm) for arm in get_args(tp) if arm is not type(None)]
        if len(arms) == 1:
            return _build(arms[0], leaf, others, classes)  # X | None: X's plan
        for arm in arms:
            inner = _build(arm, leaf, others, classes)
            if _is_structure(arm):
                # Applied in turn: a class's plan may still be under construction here (a
                # recursive class), so it is referred to, never copied.
                node.arms.append(inner)
            else:
                node.hit |= inner.hit
                node.other |= inner.other
    elif _is_class(tp):
        if tp in classes:
            return classes[tp]  # a recursive class: the same plan, a cycle
        classes[tp] = node
        for name, field_type in _field_types(tp).items():
            node.fields[name] = _build(field_type, leaf, others, classes)
    elif _is_mapping(tp) or _is_sequence(tp) or _is_tuple(tp):
        args = get_args(tp)
        if _is_tuple(tp) and not (len(args) == 2 and args[1] is Ellipsis):
            node.fields.update({i: _build(a, leaf, others, classes) for i, a in enumerate(args)})
        elif args:
            item = args[-1] if _is_mapping(tp) else args[0]
            node.items = _build(item, leaf, others, classes)
    else:
        node.other = others(tp)
    return node


def _strip(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _is_structure(tp: Any) -> bool:
    return _is_class(tp) or _is_mapping(tp) or _is_sequence(tp) or _is_tuple(tp)


def _prune(root: Plan) -> Plan | None:
    """``root`` without the branches that lead to no ``leaf`` (None if nothing is left), so
    that applying it walks only the parts of a document that can hold one."""
    nodes: list[Plan] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        nodes.append(node)
        stack.extend(_children(node))
    useful = {id(n) for n in nodes if n.hit and not n.other}
    grew = True
    while grew:  # cycles: until no node becomes useful through a child
        grew = False
        for node in nodes:
            if id(node) not in useful and any(id(c) in useful for c in _children(node)):
                useful.add(id(node))
                grew = True
    if id(root) not in useful:
        return None
    for node in nodes:
        node.hit = node.hit and not node.other
        node.fields = {k: c for k, c in node.fields.items() if id(c) in useful}
        if node.items is not None and id(node.items) not in useful:
            node.items = None
        node.arms = [arm for arm in node.arms if id(arm) in useful]
    return root


def _children(node: Plan) -> list[Plan]:
    items = [node.items] if node.items is not None else []
    return [*node.fields.values(), *items, *node.arms]


def apply(data: D, node: Plan, change: Change) -> D:
    """``data`` with the value at every ``leaf`` position of ``node`` passed through
    ``change`` (which returns the value itself to leave it).

    The containers on the way to a changed value are copied, the rest is shared: the parsed
    document may be kept elsewhere (a layer's previous data, a snapshot's origins)."""
    changed: D = _apply(data, node, change, ())
    return changed


def _apply(data: Any, node: Plan, change: Change, path: tuple[Any, ...]) -> Any:
    for arm in node.arms:  # a union's members, in turn (a change made twice changes nothing)
        data = _apply(data, arm, change, path)
    if type(data) is dict:
        copy: dict[Any, Any] | None = None
        keys: Any = data if node.items is not None else [k for k in node.fields if k in data]
        for key in keys:
            inner = node.fields.get(key, node.items)
            if inner is None:
                continue
            value = data[key]
            new = _apply(value, inner, change, (*path, key))
            if new is not value:
                if copy is None:
                    copy = dict(data)
                copy[key] = new
        return data if copy is None else copy
    if type(data) is list:
        items: list[Any] | None = None
        for i, value in enumerate(data):
            inner = node.fields.get(i, node.items)
            if inner is None:
                continue
            new = _apply(value, inner, change, (*path, i))
            if new is not value:
                if items is None:
                    items = list(data)
                items[i] = new
        return data if items is None else items
    return change(data, path) if node.hit else data
