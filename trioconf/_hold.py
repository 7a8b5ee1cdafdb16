"""Restart-only fields: the running value stays, the value on disk waits for a restart.

A field marked ``trioconf.field(restart_only=True)`` (a listening port, a pool size) is read
once, when the service starts; a change to it on disk cannot take effect before a restart. If
such a change reached the candidate, a ``validate`` that refuses it would reject the whole
candidate, and with it every unrelated change made later, until the field is reverted on disk.

So the updater corrects each candidate between its build and its check (``Hold.apply``): every
restart-only path is set back to its running value, and ``validate`` sees, and the live value
publishes, that corrected candidate. A path with ``None`` parts (a field inside the entries of
a mapping or a list) is held in every entry present both on disk and in the running snapshot:
an entry new on disk takes its value from disk (nothing of it is running), an entry removed
from disk is removed. The values held are listed in ``Live.restart_pending``, each logged once
when it starts waiting (``Hold.settle``). This is the one case where a snapshot differs from
what the files say.

Configs without restart-only fields never get here: the updater makes no ``Hold`` for them.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar, cast

import attrs

from ._candidate import Candidate
from ._errors import FieldError, ValidationError
from ._marks import MASK, restart_only_paths, secret_at
from ._merge import dotted
from ._origins import Origin, Origins, as_origins
from ._paths import Parts, _field_names

T = TypeVar("T")
logger = logging.getLogger("trioconf")

_ABSENT: Any = object()
_Parts = tuple[Hashable, ...]
# What a build hands over as origins: ``Origins``, or (given by hand) a mapping of dotted paths.
AnyOrigins = Origins | Mapping[str, str]


@attrs.frozen
class RestartPending:
    """A restart-only value that differs on disk from the running one: it waits for a restart.

    ``path`` is the dotted path of the field (``"db.port"``, ``"tenants.acme.port"``),
    ``source`` where the waiting value comes from (a file's path, ``env APP_DB__PORT``, or
    ``"default"`` when no source sets it any more; a file's line too, as :meth:`Live.origin`
    says it: ``app.toml:3``), ``value`` the value on disk, or
    ``"**********"`` where the field is secret. The record is made when the value starts
    waiting and stays as it is while that value waits. See "Restart-only fields" in the docs.
    """

    path: str
    source: str
    value: object


@attrs.frozen
class _Kept:
    """One held path: its parts, the running value put back, and the value on disk."""

    parts: _Parts
    running: object
    disk: object


@attrs.frozen
class Held(Generic[T]):
    """``Hold.apply``'s answer: the candidate to check and publish (None when it differed
    from the running snapshot at held paths only), and what waits, with the values held."""

    candidate: Candidate[T] | None
    pending: tuple[RestartPending, ...]
    kept: tuple[_Kept, ...]  # in the order of ``pending``
    hold: Hold[T]

    def settle(self, waiting: Callable[[tuple[RestartPending, ...]], None]) -> None:
        """The attempt succeeded: hand ``pending`` to ``waiting`` (the publisher's), and log
        what starts or stops waiting (``Hold.settle``)."""
        waiting(self.pending)
        self.hold.settle(self)


class Hold(Generic[T]):
    """The restart-only paths of one reloader's config class, and what waits at them.

    Owned by the updater task: ``apply`` to a candidate, and ``settle`` once the attempt
    succeeded (a failed attempt leaves what waits, and the log, as they were)."""

    def __init__(
        self,
        cls: type[T],
        paths: Sequence[tuple[str | None, ...]],
        same_value: Callable[[object, object], bool],
    ) -> None:
        self._cls = cls
        self._paths = tuple(paths)
        self._same = same_value
        # What waits now, by dotted path: its value on disk (unmasked, to compare) and record.
        self._waiting: dict[str, tuple[object, RestartPending]] = {}

    @classmethod
    def of(
        cls, config_class: type[T], same_value: Callable[[object, object], bool]
    ) -> Hold[T] | None:
        """A ``Hold`` for ``config_class``, or None when it has no restart-only field (the
        updater then skips this step: such configs pay nothing for it)."""
        paths = restart_only_paths(config_class)
        return cls(config_class, paths, same_value) if paths else None

    def apply(self, candidate: Candidate[T] | None, old: T, running_origins: AnyOrigins) -> Held[T]:
        """``candidate`` with every restart-only path set back to its value in ``old`` (whose
        origins are ``running_origins``)."""
        if candidate is None:  # the sources give the running snapshot: nothing waits
            return Held(None, (), (), self)
        found: list[_Kept] = []
        config: Any = candidate.config
        for path in self._paths:
            config = self._put(old, config, path, (), found)
        if not found:
            return Held(candidate, (), (), self)
        kept = tuple(found)
        pending = tuple(self._record(k, candidate.origins) for k in kept)
        # What changed apart from the held paths decides whether anything is published; paid
        # only while a value waits (listing a keyed or layered Directory's change costs what
        # the change does).
        changed = candidate.changed
        listed = changed() if callable(changed) else changed
        rest = _without(listed, kept, old, config, self._same)
        if not rest:
            return Held(None, pending, kept, self)
        origins = _HeldOrigins(candidate.origins, running_origins, [k.parts for k in kept])
        # ``evolve``: the candidate's own class, whatever its origins' declared type.
        corrected = attrs.evolve(candidate, config=config, origins=origins, changed=rest)
        return Held(corrected, pending, kept, self)

    def settle(self, held: Held[T]) -> None:
        """The attempt that made ``held`` succeeded: what waits is ``held.pending`` now. A value
        that starts waiting is logged at warning once, not on every reload while it waits; a
        path that no longer waits, at info."""
        before = self._waiting
        self._waiting = {r.path: (k.disk, r) for r, k in zip(held.pending, held.kept, strict=True)}
        for record, kept in zip(held.pending, held.kept, strict=True):
            known = before.get(record.path)
            if known is not None and known[1] is record:
                continue  # waiting already, and said so
            secret = secret_at(self._cls, kept.parts)
            logger.warning(
                "restart-only field %s changed in %s to %s: the running value %s stays until"
                " the service restarts",
                record.path,
                record.source,
                MASK if secret else _short(kept.disk),
                MASK if secret else _short(kept.running),
            )
        for path in sorted(before.keys() - self._waiting.keys()):
            logger.info("restart-only field %s no longer waits for a restart", path)

    def _record(self, kept: _Kept, origins: AnyOrigins) -> RestartPending:
        path = dotted(kept.parts)
        known = self._waiting.get(path)
        if known is not None and self._same(known[0], kept.disk):
            return known[1]  # the same value still waits: the same record, logged already
        value = MASK if secret_at(self._cls, kept.parts) else kept.disk
        return RestartPending(path, _source(origins, kept.parts), value)

    def _put(
        self, old: object, new: object, path: tuple[str | None, ...], at: _Parts, kept: list[_Kept]
    ) -> object:
        """``new`` with the value at ``path`` (below ``at``) taken from ``old`` where both
        have one and they differ; ``new`` itself when nothing is held."""
        if old is new:  # shared (an unchanged entry of a Directory): nothing can differ
            return new
        if not path:
            if self._same(old, new):
                return new
            kept.append(_Kept(at, old, new))
            return old
        head, rest = path[0], path[1:]
        if head is None:
            return self._each(old, new, rest, at, kept)
        before, after = _get(old, head), _get(new, head)
        if before is _ABSENT or after is _ABSENT:
            return new  # nothing of it runs (an optional section just set), or it is gone
        inner = self._put(before, after, rest, (*at, head), kept)
        if inner is after:
            return new
        try:
            return _replace(new, head, inner)
        except Exception as exc:
            # The class's own checks (an attrs validator, a __post_init__) refuse the running
            # value beside the new ones: this candidate cannot run without a restart either.
            message = (
                f"refuses the running value of its restart-only field {head!r} beside the"
                f" values on disk: {type(exc).__name__}: {exc}"
            )
            raise ValidationError([FieldError(dotted(at), message)]) from exc

    def _each(
        self, old: object, new: object, path: tuple[str | None, ...], at: _Parts, kept: list[_Kept]
    ) -> object:
        """``_put`` in every entry of a mapping or list that both ``old`` and ``new`` have."""
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            changes: dict[Hashable, object] = {}
            for key, after in new.items():
                before = old.get(key, _ABSENT)
                if before is _ABSENT:
                    continue  # new on disk: nothing of it runs, its values apply
                inner = self._put(before, after, path, (*at, key), kept)
                if inner is not after:
                    changes[key] = inner
            return _with_items(new, changes) if changes else new
        if _is_list(old) and _is_list(new):
            assert isinstance(old, Sequence)
            assert isinstance(new, Sequence)
            items = list(new)
            for i in range(min(len(old), len(new))):
                items[i] = self._put(old[i], new[i], path, (*at, i), kept)
            if all(a is b for a, b in zip(items, new, strict=True)):
                return new
            if type(new) is list:
                return items
            return tuple(items) if type(new) is tuple else cast(Any, type(new))(items)
        return new


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _is_list(value: object) -> bool:
    return isinstance(value, list | tuple)


def _get(value: object, name: str) -> object:
    names = _field_names(type(value))
    if names is None or name not in names:
        return _ABSENT
    return getattr(value, name)


def _replace(value: Any, name: str, inner: object) -> object:
    """``value`` (an attrs instance or a dataclass) with its field ``name`` set to ``inner``,
    through its ``__init__`` (``attrs.evolve``), so that a frozen class stays what it says."""
    cls = type(value)
    if attrs.has(cls):
        attribute = attrs.fields_dict(cls)[name]
        if attribute.init:
            return attrs.evolve(value, **{attribute.alias or name: inner})
    elif next(f for f in dataclasses.fields(value) if f.name == name).init:
        return dataclasses.replace(value, **{name: inner})
    clone = copy.copy(value)  # a field __init__ does not take: set it as the class does
    object.__setattr__(clone, name, inner)
    return clone


def _with_items(mapping: Mapping[Hashable, object], changes: dict[Hashable, object]) -> object:
    """A copy of ``mapping`` with ``changes``: the mapping itself may be shared (a keyed
    Directory's entries are the folder's own dict until the next change copies it)."""
    if isinstance(mapping, dict):
        clone = copy.copy(mapping)
        clone.update(changes)
        return clone
    return type(mapping)({**mapping, **changes})  # type: ignore[call-arg]


def _source(origins: AnyOrigins, parts: _Parts) -> str:
    """Where the value at ``parts`` (in the snapshot ``origins`` belong to) comes from, with
    its line where the file's text says it: where to look to revert it."""
    return as_origins(origins).find(_origin_parts(parts)).exact()


def _origin_parts(parts: _Parts) -> Parts:
    # As ``Origins`` take them: list indexes as ints, mapping keys as strings.
    return tuple(p if isinstance(p, int | str) else str(p) for p in parts)


def _without(
    changed: frozenset[str],
    kept: Sequence[_Kept],
    old: object,
    config: object,
    same_value: Callable[[object, object], bool],
) -> frozenset[str]:
    """``changed`` without the held paths and what is below them, and without their
    ancestors reported whole (a list holding a held item) where the held candidate's value
    equals the running one."""
    held = {dotted(k.parts) for k in kept}
    above: dict[str, _Parts] = {}
    for k in kept:
        for end in range(1, len(k.parts)):
            above.setdefault(dotted(k.parts[:end]), k.parts[:end])
    out: set[str] = set()
    for path in changed:
        if any(prefix in held for prefix in _prefixes(path)):
            continue
        parts = above.get(path)
        if parts is not None and same_value(_at(old, parts), _at(config, parts)):
            continue
        out.add(path)
    return frozenset(out)


def _prefixes(path: str) -> Iterator[str]:
    """``path`` and every dotted path above it: ``a.b[0].c``, ``a.b[0]``, ``a.b``, ``a``."""
    yield path
    for i in range(len(path) - 1, 0, -1):
        if path[i] in ".[":
            yield path[:i]


def _at(value: object, parts: _Parts) -> object:
    for part in parts:
        if isinstance(value, Mapping):
            value = value.get(part, _ABSENT)
        elif isinstance(part, int) and _is_list(value):
            assert isinstance(value, Sequence)
            value = value[part] if part < len(value) else _ABSENT
        else:
            value = _get(value, str(part))
        if value is _ABSENT:
            return _ABSENT
    return value


class _HeldOrigins(Origins):
    """The origins of a held candidate: the files' for every path, except at and below the
    held paths, whose values (so origins) are the running snapshot's."""

    __slots__ = ("_dotted", "_files", "_running")

    def __init__(self, files: AnyOrigins, running: AnyOrigins, held: Sequence[_Parts]) -> None:
        self._files = as_origins(files)
        # Never a chain of these: each held path keeps what answered for it before, not the
        # whole previous table (which would keep every older table alive while a value waits).
        before = as_origins(running)
        self._running = {
            path: before._owner(path) if isinstance(before, _HeldOrigins) else before
            for path in map(_origin_parts, held)
        }
        self._dotted = {dotted(parts): owner for parts, owner in self._running.items()}

    def _owner(self, parts: Parts) -> Origins:
        for end in range(len(parts), 0, -1):
            found = self._running.get(parts[:end])
            if found is not None:
                return found
        return self._files

    def find(self, parts: Parts) -> Origin:
        return self._owner(parts).find(parts)

    def whole(self, parts: Parts) -> bool:
        return self._owner(parts).whole(parts)

    # The mapping of dotted paths (``Origins`` are one too).

    def _owner_of(self, path: str) -> Origins:
        for prefix in _prefixes(path):
            found = self._dotted.get(prefix)
            if found is not None:
                return found
        return self._files

    def __getitem__(self, path: str) -> str:
        return self._owner_of(path)[path]

    def __iter__(self) -> Iterator[str]:
        yield from (path for path in self._files if self._owner_of(path) is self._files)
        for held, before in self._dotted.items():
            yield from (path for path in before if held in _prefixes(path))

    def __len__(self) -> int:
        return sum(1 for _ in self)
