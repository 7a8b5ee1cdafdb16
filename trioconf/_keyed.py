"""Keyed Directories in the config: assembling it, and what changed, at the cost of the change.

A keyed Directory owns one mapping field (``tenants``). Building a config puts the Directory's
already-structured entries there as a ``Prebuilt`` mapping, which the converter takes as it
is, so a build structures only the rest of the config (the other sources). Only the owned
field is left to the Directory: another source that sets anything at or under its key is an
error rather than a merge, which is what keeps the incremental result equal to a rebuild from
scratch in every case that is accepted.

What changed is found the same way: the entries of the stems marked dirty are diffed one by
one, and the rest of the config is diffed with the owned mappings blanked out, so neither diff
walks the ten thousand entries that did not change. Origins are answered lazily
(``KeyedOrigins``) for the same reason.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import itertools
import typing
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ._candidate import Candidate
from ._converter import Prebuilt, unstructure
from ._errors import FieldError, ValidationError
from ._folder_keyed import KeyedFolder
from ._kinds import _is_class, _is_mapping
from ._merge import Merged, changed_paths, dotted, same
from ._origins import LayerOrigins, Origin, Origins
from ._paths import Parts, leaf_paths, lookup
from ._sources import Directory
from ._structure import structure

if TYPE_CHECKING:
    import cattrs

T = TypeVar("T")
_ABSENT = object()


def entry_type(cls: type, source: Directory) -> Any:
    """The value type of the mapping field a keyed Directory fills, checked before anything
    runs: every part of the dotted key but the last must name a field holding an attrs class
    or dataclass, and the last a ``dict[str, X]`` (or ``Mapping[str, X]``) field."""
    parts = source.key_parts
    owner: Any = cls
    for i, part in enumerate(parts):
        where = ".".join(parts[: i + 1])
        if not _is_class(owner):
            msg = f"Directory key {source.key!r}: {'.'.join(parts[:i])} is not a class with fields"
            raise TypeError(msg)
        hints = typing.get_type_hints(owner)
        names = _field_names(owner)
        if part not in names:
            msg = f"Directory key {source.key!r}: {owner.__name__} has no field {part!r}"
            raise ValueError(msg)
        owner = hints.get(part, Any)
        if i < len(parts) - 1:
            continue
        args = typing.get_args(owner)
        if not _is_mapping(owner) or len(args) != 2 or args[0] is not str:
            msg = (
                f"Directory key {source.key!r}: field {where} must be a dict[str, X] to hold"
                f" one entry per file, not {owner!r}"
            )
            raise TypeError(msg)
        return args[1]
    raise ValueError(f"Directory key {source.key!r} names no field")  # pragma: no cover


def _field_names(cls: type) -> list[str]:
    if attrs.has(cls):
        return [a.name for a in attrs.fields(cls)]
    return [f.name for f in dataclasses.fields(cls)]


def check_keys(sources: Sequence[Directory]) -> None:
    """Two keyed Directories may not fill the same field, nor one inside the other's."""
    keys = sorted(s.key_parts for s in sources)
    for a, b in itertools.pairwise(keys):
        if b[: len(a)] == a:
            msg = f"two Directory sources fill {'.'.join(a)} and {'.'.join(b)}: one owns the other"
            raise ValueError(msg)


def build(
    converter: cattrs.Converter, cls: type[T], merged: Merged, states: Sequence[KeyedFolder]
) -> tuple[T, KeyedOrigins]:
    """The config from the rest of the sources (``merged``) and the keyed Directories' entries.

    Raises a ValidationError when another source sets something a Directory owns."""
    # The rest's origins, taken before the entries go in: error reports look paths up in
    # them, and a walk of the document would meet the Prebuilt mapping, which no layer holds.
    merged.origins  # noqa: B018 (computed now, cached)
    data = merged.data
    for state in states:
        _place(data, state, merged)
    config = structure(converter, cls, merged)
    owned = [(state, _get(config, state.source.key_parts)) for state in states]
    return config, KeyedOrigins(LayerOrigins(merged), owned)


def _place(data: dict[str, Any], state: KeyedFolder, merged: Merged) -> None:
    parts = state.source.key_parts
    node = data
    for depth, part in enumerate(parts):
        here = node.get(part, _ABSENT)
        last = depth == len(parts) - 1
        if here is not _ABSENT and (last or not isinstance(here, dict)):
            layer = merged.origin(parts[: depth + 1])
            source = layer.name if layer is not None else None
            message = (
                f"set here, but the Directory {state.folder} supplies {state.source.key}"
                " (a keyed Directory owns its field whole: move these values into its files)"
            )
            raise ValidationError([FieldError(dotted(parts[: depth + 1]), message, None, source)])
        if last:
            node[part] = Prebuilt(state.entries)  # handed out by ``settle`` or ``Loader.build``
        else:
            node = node.setdefault(part, {})


def _get(config: object, parts: Sequence[str]) -> Any:
    for part in parts:
        config = getattr(config, part)
    return config


def _blank(config: object, parts: Sequence[str]) -> object:
    """A shallow copy of ``config`` with the mapping at ``parts`` replaced by ``{}``: the rest
    of the config, for diffing without walking the entries. Never published."""
    clone = copy.copy(config)
    head, tail = parts[0], parts[1:]
    inner = _blank(getattr(config, head), tail) if tail else {}
    object.__setattr__(clone, head, inner)
    return clone


def settle(
    converter: cattrs.Converter, states: Sequence[KeyedFolder], old: object, *, allow_nan: bool
) -> list[_Change]:
    """The changed entries of the keyed Directories, against the snapshot ``old``.

    Run in the updater's task, before the build: it changes the folders' bookkeeping (a stem
    whose entry is the old one again is no longer dirty; an entry equal to the old one is
    replaced by the old object, which every snapshot already shares) and hands their entries
    to the snapshot about to be built (copied before the next change), so that the build
    itself, maybe in a thread, only reads."""
    same_value = functools.partial(_same, converter, allow_nan)
    changes: list[_Change] = []
    for state in states:
        changes += _entry_changes(state, _get(old, state.source.key_parts), same_value)
        state.take_entries()
    return changes


def candidate(
    build_config: typing.Callable[[], tuple[T, KeyedOrigins]],
    converter: cattrs.Converter,
    states: Sequence[KeyedFolder],
    changes: list[_Change],
    old: T,
    *,
    allow_nan: bool,
    eager: bool = False,
) -> Candidate[T] | None:
    """The new config, its origins and its changed paths; None when nothing changed.

    ``changes`` comes from ``settle``. The cost is that of the changed entries and of the rest
    of the config, whatever the number of unchanged entries. The paths are listed on first
    access (as the updater does for other configs), unless ``eager``; whether anything changed
    is decided by equality here."""
    same_value = functools.partial(_same, converter, allow_nan)
    config, origins = build_config()
    old_rest: object = old
    new_rest: object = config
    for state in states:
        old_rest = _blank(old_rest, state.source.key_parts)
        new_rest = _blank(new_rest, state.source.key_parts)
    rest_changed = not same_value(old_rest, new_rest)
    if not changes and not rest_changed:
        return None
    diff = functools.partial(
        _changed, converter, changes, (old_rest, new_rest) if rest_changed else None
    )
    return Candidate(config, origins, diff() if eager else diff)


@attrs.frozen
class _Change:
    """A changed entry: the dotted key of its Directory, its stem, and the entry before and
    after (``_ABSENT`` for none)."""

    key: str
    stem: str
    before: Any
    after: Any


def _same(converter: cattrs.Converter, allow_nan: bool, a: object, b: object) -> bool:
    # NaN != NaN: with allow_nan, an entry holding one never equals itself; the typed
    # comparison of the unstructured values holds NaN equal (as the updater does).
    if a == b:
        return True
    return allow_nan and same(unstructure(converter, a), unstructure(converter, b))


def _entry_changes(
    state: KeyedFolder, old_map: Mapping[str, Any], same_value: typing.Callable[..., bool]
) -> list[_Change]:
    out: list[_Change] = []
    prefix = dotted(state.source.key_parts)
    for stem in list(state.dirty):
        before = old_map.get(stem, _ABSENT)
        after = state.entries.get(stem, _ABSENT)
        if before is after:
            state.dirty.discard(stem)
        elif before is not _ABSENT and after is not _ABSENT and same_value(before, after):
            state.reuse(stem, before)  # equal: keep the object every snapshot already shares
        else:
            out.append(_Change(prefix, stem, before, after))
    return out


def _changed(
    converter: cattrs.Converter, changes: list[_Change], rest: tuple[object, object] | None
) -> frozenset[str]:
    """The dotted paths that differ: in each changed entry, and in the rest of the config."""
    paths: set[str] = set()
    for change in changes:
        before, after, stem = change.before, change.after, change.stem
        old_doc = {} if before is _ABSENT else {stem: unstructure(converter, before)}
        new_doc = {} if after is _ABSENT else {stem: unstructure(converter, after)}
        paths.update(f"{change.key}.{path}" for path in changed_paths(old_doc, new_doc))
    if rest is not None:
        old_rest, new_rest = rest
        paths |= changed_paths(unstructure(converter, old_rest), unstructure(converter, new_rest))
    return frozenset(paths)


class KeyedOrigins(Origins):
    """A keyed config's origins: the rest of the config's from its layers, and for a path at
    or inside a keyed Directory's field the Directory (the field itself) or the file that
    supplies the entry (anything inside it, a field the file leaves to the class default too:
    the entry came whole from that file). No line: the folder keeps no entry's bytes. Nothing
    is listed in advance: a table of every path of ten thousand entries per change is what
    this avoids."""

    __slots__ = ("_owned", "_rest")

    def __init__(
        self, rest: LayerOrigins, owned: list[tuple[KeyedFolder, Mapping[str, Any]]]
    ) -> None:
        self._rest = rest
        self._owned = [(tuple(s.source.key_parts), s, entries) for s, entries in owned]

    def find(self, parts: Parts) -> Origin:
        for prefix, state, _ in self._owned:
            if parts[: len(prefix)] == prefix:
                if len(parts) == len(prefix):
                    return Origin(state.folder)
                stem = str(parts[len(prefix)])
                return Origin(state.owner(stem) or state.folder)
        return self._rest.find(parts)

    def whole(self, parts: Parts) -> bool:
        return any(parts[: len(prefix)] == prefix for prefix, _, _ in self._owned)

    # The table by dotted path, for code that reads origins as a mapping (``_hold``).

    def __getitem__(self, path: str) -> str:
        found = self._rest.get(path)
        if found is not None:
            return found
        for prefix, state, entries in self._owned:
            head = dotted(prefix)
            if path == head:
                return state.folder
            if path.startswith(head + "."):
                origin = self._inside(state, entries, path[len(head) + 1 :])
                if origin is not None:
                    return origin
        raise KeyError(path)

    @staticmethod
    def _inside(state: KeyedFolder, entries: Mapping[str, Any], rest: str) -> str | None:
        # Stems may hold dots (``acme.eu.toml``): try the longest stem first.
        parts = rest.split(".")
        for cut in range(len(parts), 0, -1):
            stem = ".".join(parts[:cut])
            entry = entries.get(stem, _ABSENT)
            if entry is _ABSENT:
                continue
            inner = ".".join(parts[cut:])
            if inner:
                try:
                    lookup(entry, inner)
                except KeyError:
                    return None
            return state.owner(stem) or state.folder
        return None

    def __iter__(self) -> Iterator[str]:
        # Every path, for completeness (Live only looks paths up): O(all entries).
        yield from self._rest
        for prefix, _, entries in self._owned:
            head = dotted(prefix)
            yield head
            for stem, entry in entries.items():
                yield f"{head}.{stem}"
                for leaf in leaf_paths(entry):
                    yield f"{head}.{stem}.{leaf}"

    def __len__(self) -> int:
        return sum(1 for _ in self)
