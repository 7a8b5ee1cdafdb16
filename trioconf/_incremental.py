"""Layered builds at the cost of the change: re-merge and re-structure only what a change touches.

A layered ``Directory`` of ten thousand files, each adding its own ``[tenants.<name>]`` table,
would otherwise cost a merge of ten thousand layers and the structuring of ten thousand entries
for every one-file save. The config's **mapping fields** (``dict[str, X]`` fields reached
through its classes' fields, such as ``tenants``) are where such folders put their entries, so
they are the unit of work here:

- Every layer is split once, when it appears: its mapping at each mapping field (the entries
  it sets there) and the rest of its document (``_Split``).
- An index says, per mapping field and key, which layers set that entry, in precedence order.
  A changed layer (a folder's file, a file, the environment) is taken out of the index as it
  was and put back as it is; the entries it touched, before and after, are re-merged from
  their holders only, and structured with the converter's hook for ``X``.
- The rest of the config (the rest of every layer, usually a base file and the environment)
  is merged and structured again in full, with each mapping field handed over already
  structured (``Prebuilt``), as a keyed ``Directory`` does.
- What changed is found the way ``_keyed`` finds it: the touched entries one by one against
  the current snapshot, and the rest with the mappings blanked out.

The result equals a rebuild from scratch (``tests/test_directory.py`` checks it against one
after random edits), including the order of every mapping's keys: a key's place is that of
its first holder, and a new key that lands in the middle sorts the mapping again.

Anything this does not model falls back to the full build: a layer that puts a non-mapping
where a mapping field (or a class on its path) is, an entry or a rest that does not
structure (the full build then says every bad field, located), a layer too large to build
from inline. After a fallback the index is built again from scratch on the next build.
"""

from __future__ import annotations

import bisect
import functools
import typing
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

import attrs

from ._candidate import Candidate
from ._converter import Prebuilt
from ._folder import name_order
from ._folder_layered import LayeredFolder
from ._keyed import _ABSENT, _blank, _Change, _changed, _get, _same
from ._kinds import _is_class, _is_mapping
from ._layer import Layer
from ._merge import _merge_into, dotted, merge
from ._origins import LayerOrigins
from ._structure import structure

if TYPE_CHECKING:
    import cattrs

    from ._load import Loader

T = TypeVar("T")

Order = tuple[int, bytes]
"""A layer's place: its source's index, then (in a folder) its name's bytes."""


@attrs.frozen
class Field:
    """A mapping field: ``dict[str, X]`` (or ``Mapping[str, X]``) at ``parts``."""

    parts: tuple[str, ...]
    value_type: Any

    @property
    def name(self) -> str:
        return dotted(self.parts)


def mapping_fields(cls: type) -> tuple[Field, ...]:
    """The mapping fields of ``cls``, reached through fields that hold a class (not through
    optionals, unions or containers: a layer that sets those is merged in full anyway)."""
    found: list[Field] = []

    def walk(tp: Any, parts: tuple[str, ...], seen: frozenset[Any]) -> None:
        hints = typing.get_type_hints(tp)
        names = [a.name for a in attrs.fields(tp)] if attrs.has(tp) else list(hints)
        for name in names:
            hint = hints.get(name)
            args = typing.get_args(hint)
            if _is_mapping(hint) and len(args) == 2 and args[0] is str:
                found.append(Field((*parts, name), args[1]))
            elif _is_class(hint) and hint not in seen:
                walk(hint, (*parts, name), seen | {hint})

    try:
        walk(cls, (), frozenset({cls}))
    except Exception:  # annotations that do not resolve: the full build says so
        return ()
    return tuple(found)


class _Split(NamedTuple):
    """A layer, split along the mapping fields. A named tuple: one is made per layer, ten
    thousand at a large folder's start-up, where a frozen class's field-by-field set shows."""

    layer: Layer
    order: Order
    mappings: tuple[Mapping[str, Any] | None, ...]  # per field: what it sets there, or None
    rest: Layer | None  # the layer without those mappings; None when nothing else is left
    regular: bool  # mappings all the way down to each mapping field it reaches


class Fallback(Exception):
    """The incremental build cannot say it: build in full."""


class Incremental(Generic[T]):
    """The index of a layered loader's layers, and the entries structured from it.

    Changed only by the updater task (and by the initial load): ``build`` advances it to the
    sources' state, whether or not the candidate it gives is published."""

    def __init__(
        self, cls: type[T], converter: cattrs.Converter, fields: Sequence[Field], *, allow_nan: bool
    ) -> None:
        self.cls = cls
        self.converter = converter
        self.allow_nan = allow_nan
        self.fields = tuple(fields)
        self._hooks = [converter.get_structure_hook(f.value_type) for f in self.fields]
        self._flat = all(len(f.parts) == 1 for f in self.fields)
        self._single = self.fields[0].parts[0] if self._flat and len(self.fields) == 1 else None
        self.ready = False
        self._reset()

    def _reset(self) -> None:
        n = len(self.fields)
        self._splits: dict[int, _Split] = {}  # id(layer) → its split (the split holds it)
        self._per_state: dict[int, tuple[Layer, ...]] = {}  # a non-folder source's layers
        self._holders: list[dict[str, list[tuple[Order, int]]]] = [{} for _ in range(n)]
        self._present = [0] * n  # how many layers reach each mapping field
        self._irregular = 0
        self._rest: list[tuple[Order, int]] = []
        self._entries: list[dict[str, Any]] = [{} for _ in range(n)]
        self._shared = [False] * n  # ``_entries[f]`` is held by a built config: copy first
        self._places: list[dict[str, tuple[Order, int]]] = [{} for _ in range(n)]
        self.dirty: set[tuple[int, str]] = set()  # entries changed since the snapshot compared
        self._fresh = False  # the index was just built from scratch

    # -- building --------------------------------------------------------------------------------

    def build(self, loader: Loader[T]) -> tuple[T, Mapping[str, str]]:
        """The config the sources give now and its origins; raises ``Fallback``."""
        config, origins, _ = self._build(loader, None)
        return config, origins

    def candidate(self, loader: Loader[T], old: T, *, eager: bool) -> Candidate[T] | None:
        """The new config against ``old`` (the current snapshot), or None when it is equal;
        raises ``Fallback``."""
        before = self._rest_of(old)
        config, origins, changes = self._build(loader, old)
        rest = self._rest_of(config)
        rest_changed = not _same(self.converter, self.allow_nan, before, rest)
        if not changes and not rest_changed:
            return None
        pair = (before, rest) if rest_changed else None
        diff = functools.partial(_changed, self.converter, changes, pair)
        return Candidate(config, origins, diff() if eager else diff)

    def _build(
        self, loader: Loader[T], old: T | None
    ) -> tuple[T, Mapping[str, str], list[_Change]]:
        try:
            touched = self._sync(loader)
            self._restructure(touched)
            # Before the entries are handed to the config: an entry equal to the old one
            # becomes the old object in the mapping the new config holds.
            changes = [] if old is None else self._changes(old)
            config, origins = self._assemble(loader)
        except BaseException:
            self.ready = False  # rebuilt from scratch next time
            raise
        return config, origins, changes

    def settled(self) -> None:
        """The config just built is the snapshot the next candidate compares with."""
        self.dirty.clear()
        self._fresh = False

    def prepare(self) -> None:
        """Copy the entries a built config took now, between changes (``Loader.prepare``)."""
        for f in range(len(self.fields)):
            self._entries_for_write(f)

    def share(self, old: object, new: object) -> None:
        """After a full build: give ``new`` (not published yet) ``old``'s object for every
        entry equal to it, as an incremental build does, so views of unchanged entries
        never wake."""
        for field in self.fields:
            old_map, new_map = _get(old, field.parts), _get(new, field.parts)
            if not isinstance(old_map, dict) or not isinstance(new_map, dict):
                continue
            for key, entry in new_map.items():
                before = old_map.get(key, _ABSENT)
                same = before is not _ABSENT and before is not entry
                if same and _same(self.converter, self.allow_nan, before, entry):
                    new_map[key] = before

    def _rest_of(self, config: object) -> object:
        for field in self.fields:
            config = _blank(config, field.parts)
        return config

    def _changes(self, old: object) -> list[_Change]:
        """The touched entries that differ from ``old``'s; equal ones get ``old``'s object back
        (every snapshot shares it), identical ones are no longer dirty."""
        changes: list[_Change] = []
        if self._fresh:
            # Built from scratch: every entry is compared with the old snapshot's, and so is
            # every entry the old snapshot has that no layer gives any more.
            for f, field in enumerate(self.fields):
                entries = self._entries[f]
                self.dirty.update((f, k) for k in entries)
                self.dirty.update((f, k) for k in _get(old, field.parts) if k not in entries)
            self._fresh = False
        for f, key in sorted(self.dirty):
            field = self.fields[f]
            before = _get(old, field.parts).get(key, _ABSENT)
            after = self._entries[f].get(key, _ABSENT)
            if before is after:
                self.dirty.discard((f, key))
            elif (
                before is not _ABSENT
                and after is not _ABSENT
                and _same(self.converter, self.allow_nan, before, after)
            ):
                self._entries_for_write(f)[key] = before
                self.dirty.discard((f, key))
            else:
                changes.append(_Change(field.name, key, before, after))
        return changes

    # -- the index -------------------------------------------------------------------------------

    def _sync(self, loader: Loader[T]) -> dict[tuple[int, str], None]:
        """Bring the index to the sources' layers; the entries touched on the way."""
        touched: dict[tuple[int, str], None] = {}
        if not self.ready:
            self._reset()
            for i, state in enumerate(loader.states):
                if isinstance(state, LayeredFolder):
                    state.take_changes()
                    state.tracking = True
                    for name, layer in state.named_layers():
                        self._add(layer, (i, name_order(name)), touched)
                else:
                    layers = tuple(state.layers())
                    self._per_state[i] = layers
                    for j, layer in enumerate(layers):
                        self._add(layer, (i, j.to_bytes(4, "big")), touched)
            self.ready = True
            self._fresh = True
            return touched
        for i, state in enumerate(loader.states):
            if isinstance(state, LayeredFolder):
                for name, before, after in state.take_changes():
                    order = (i, name_order(name))
                    if before is not None:
                        self._remove(before, touched)
                    if after is not None:
                        self._add(after, order, touched)
                continue
            layers = tuple(state.layers())
            known = self._per_state.get(i, ())
            if len(layers) == len(known) and all(
                a is b for a, b in zip(layers, known, strict=True)
            ):
                continue
            for layer in known:
                self._remove(layer, touched)
            for j, layer in enumerate(layers):
                self._add(layer, (i, j.to_bytes(4, "big")), touched)
            self._per_state[i] = layers
        return touched

    def _add(self, layer: Layer, order: Order, touched: dict[tuple[int, str], None]) -> None:
        split = self._split(layer, order)
        self._splits[id(layer)] = split
        ident = (order, id(layer))
        if not split.regular:
            self._irregular += 1
        for f, mapping in enumerate(split.mappings):
            if mapping is None:
                continue
            self._present[f] += 1
            holders = self._holders[f]
            for key in mapping:
                held = holders.get(key)
                if held is None:
                    holders[key] = [ident]
                else:
                    bisect.insort(held, ident)
                touched[f, key] = None
        if split.rest is not None:
            bisect.insort(self._rest, ident)

    def _remove(self, layer: Layer, touched: dict[tuple[int, str], None]) -> None:
        split = self._splits.pop(id(layer))
        ident = (split.order, id(layer))
        if not split.regular:
            self._irregular -= 1
        for f, mapping in enumerate(split.mappings):
            if mapping is None:
                continue
            self._present[f] -= 1
            holders = self._holders[f]
            for key in mapping:
                held = holders[key]
                held.remove(ident)
                if not held:
                    del holders[key]
                touched[f, key] = None
        if split.rest is not None:
            self._rest.remove(ident)

    def _split(self, layer: Layer, order: Order) -> _Split:
        data = layer.data
        single = self._single
        if single is not None and len(data) == 1:
            # The usual layered file, ten thousand times at start-up: one table under the
            # one top-level mapping field, and nothing else.
            table = data.get(single, _ABSENT)
            if type(table) is dict:
                return _Split(layer, order, (table,), None, True)
        mappings: list[Mapping[str, Any] | None] = []
        regular = True
        for field in self.fields:
            node: Any = data
            for part in field.parts:
                if not _is_mapping_value(node):
                    regular, node = False, _ABSENT  # a scalar where a class is: full build
                    break
                node = node.get(part, _ABSENT)
                if node is _ABSENT:
                    break
            if node is not _ABSENT and not _is_mapping_value(node):
                regular, node = False, _ABSENT  # tenants = 5, or null: the full build says
            mappings.append(None if node is _ABSENT else node)
        reached = [f.parts for f, m in zip(self.fields, mappings, strict=True) if m is not None]
        rest: Layer | None = layer
        if not data:
            rest = None
        elif reached:
            if self._flat:  # the usual shape: top-level mapping fields, no copies on the way
                heads = {parts[0] for parts in reached}
                rest_data = {k: v for k, v in data.items() if k not in heads}
            else:
                rest_data = _without(data, reached)
            rest = attrs.evolve(layer, data=rest_data) if rest_data else None
        return _Split(layer, order, tuple(mappings), rest, regular)

    # -- entries ---------------------------------------------------------------------------------

    def _restructure(self, touched: dict[tuple[int, str], None]) -> None:
        """Merge each touched entry from its holders and structure it (or drop it)."""
        if self._irregular:
            raise Fallback
        resort: set[int] = set()
        writable = {f: self._entries_for_write(f) for f in {f for f, _ in touched}}
        hooks, fields, holders_of, places_of = self._hooks, self.fields, self._holders, self._places
        splits, dirty, fresh = self._splits, self.dirty, self._fresh
        for f, key in touched:  # in the order they were met: a fresh index appends in order
            held = holders_of[f].get(key)
            entries = writable[f]
            places = places_of[f]
            if held is None:
                if entries.pop(key, _ABSENT) is not _ABSENT and not fresh:
                    dirty.add((f, key))
                places.pop(key, None)
                continue
            first = splits[held[0][1]]
            mapping = first.mappings[f]
            assert mapping is not None
            place = (first.order, 0 if len(mapping) == 1 else _position(mapping, key))
            known = places.get(key)
            if known != place:
                if known is not None or (entries and place < places[next(reversed(entries))]):
                    resort.add(f)
                places[key] = place
            if len(held) == 1:
                # Structured from the layer's own data, as a keyed Directory's entry is:
                # nothing mutates a parsed document, and the structured entry is built fresh.
                value = mapping[key]
            else:
                value = self._merged(f, key, [splits[ident] for _, ident in held])
            try:
                entries[key] = hooks[f](value, fields[f].value_type)
            except Exception:
                raise Fallback from None  # the full build says what is wrong, and where
            if not fresh:  # a fresh index compares every entry (``_changes``)
                dirty.add((f, key))
        for f in resort:
            entries, places = self._entries[f], self._places[f]
            self._entries[f] = {k: entries[k] for k in sorted(entries, key=places.__getitem__)}
            self._shared[f] = False

    def _merged(self, f: int, key: str, splits: list[_Split]) -> Any:
        target: dict[str, Any] = {}
        for split in splits:
            mapping = split.mappings[f]
            assert mapping is not None
            _merge_into(target, {key: mapping[key]})
        return target[key]

    def _entries_for_write(self, f: int) -> dict[str, Any]:
        if self._shared[f]:
            self._entries[f] = self._entries[f].copy()  # the fast clone of a compact dict
            self._shared[f] = False
        return self._entries[f]

    # -- the config ------------------------------------------------------------------------------

    def _assemble(self, loader: Loader[T]) -> tuple[T, Mapping[str, str]]:
        rest = [self._splits[ident].rest for _, ident in self._rest]
        merged = merge([layer for layer in rest if layer is not None])
        data = merged.data
        for f, field in enumerate(self.fields):
            if not self._present[f]:
                continue
            node = data
            for part in field.parts[:-1]:
                inner = node.setdefault(part, {})
                if not isinstance(inner, dict):
                    raise Fallback
                node = inner
            node[field.parts[-1]] = Prebuilt(self._entries[f])
            self._shared[f] = True
        try:
            config = structure(self.converter, self.cls, merged)
        except Exception:
            raise Fallback from None
        layers = loader.frozen_layers()
        return config, LayerOrigins(lambda: merge(layers()))


def _is_mapping_value(value: object) -> bool:
    # Parsers give plain dicts: the exact type check first, the ABC's only for the rest.
    return type(value) is dict or isinstance(value, Mapping)


def _position(mapping: Mapping[str, Any] | None, key: str) -> int:
    """``key``'s place in ``mapping``: the order of a merge's keys is their first holder's."""
    assert mapping is not None
    if len(mapping) == 1:
        return 0
    for i, k in enumerate(mapping):
        if k == key:
            return i
    raise KeyError(key)  # pragma: no cover (every holder holds its key)


def _without(data: Mapping[str, Any], paths: list[tuple[str, ...]]) -> dict[str, Any]:
    """``data`` without the values at ``paths``, and without the mappings that only held them
    (a mapping empty in the layer itself stays: it sets its class's field)."""
    out = dict(data)
    for parts in paths:
        _drop(out, parts)
    return out


def _drop(node: dict[str, Any], parts: tuple[str, ...]) -> bool:
    """Drop ``parts`` from ``node`` (copying the mappings on the way); True when ``node``
    is empty because of it."""
    head = parts[0]
    if len(parts) == 1:
        node.pop(head, None)
        return not node
    inner = node.get(head)
    if not isinstance(inner, Mapping):
        return False
    copy = dict(inner)
    if _drop(copy, parts[1:]):
        del node[head]
    else:
        node[head] = copy
    return not node
