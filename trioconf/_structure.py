"""Running the strict converter on a merged document, and its failures as FieldErrors.

The converter (``_converter``) runs with detailed validation, so one pass collects every bad
field as a tree of cattrs ExceptionGroups whose sub-exceptions carry ``AttributeValidationNote``
(a field name) or ``IterableValidationNote`` (a list index or mapping key) in ``__notes__``.
Walking that tree gives each error's path as a tuple, which is what ``Merged.origins`` and
``Layer.locate`` need; parsing cattrs' ``"@ $.a.b"`` strings back would break on keys
containing dots. Kept apart from the hooks because it is the other half of the job: the hooks
say *what* is wrong with a value, this module says *where* (path, source, line and column).
"""

from __future__ import annotations

import dataclasses
import difflib
import time
from collections.abc import Sequence as AbcSequence
from typing import Any, Protocol, TypeVar, runtime_checkable

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

from ._converter import _MAX_ITEM_ERRORS, _Invalid
from ._errors import FieldError, ValidationError
from ._formats import INLINE_LIMITS
from ._layer import Layer
from ._merge import Merged, dotted

T = TypeVar("T")
_MISSING = object()
# Positions are a courtesy, and each lookup re-reads the layer's text (about 2 µs a byte for
# YAML), in the updater's task: a file with 20,000 wrong items blocked the event loop for
# minutes when every error was located. So errors are located in order until this much time
# is spent, and only in layers small enough to have been parsed inline (``INLINE_LIMITS``);
# the rest still name their field and source, without line and column.
_LOCATE_BUDGET = 0.05


@runtime_checkable
class Describes(Protocol):
    """A layer whose values come from several named places (the env layer: one variable each).

    ``describe(path)`` names the place that supplied the value at ``path``; a FieldError's
    ``source`` uses it instead of the layer's name.
    """

    def describe(self, path: AbcSequence[Any]) -> str: ...


def structure(converter: cattrs.Converter, cls: type[T], merged: Merged) -> T:
    """Structure ``merged.data`` into ``cls``.

    Raises ``ValidationError`` holding every ``FieldError`` of the document, each with its
    dotted path, a message, the offending value, the source that supplied it and, when the
    source can tell, its line and column.
    """
    try:
        return converter.structure(merged.data, cls)
    except Exception as exc:
        found: list[tuple[tuple[Any, ...], BaseException]] = []
        _walk(exc, (), found)
        deadline = time.perf_counter() + _LOCATE_BUDGET
        errors = [e for path, leaf in found for e in _field_errors(path, leaf, merged, deadline)]
        # Our own rejections and cattrs' bookkeeping need no traceback; anything else (an
        # attrs validator, a schema cattrs cannot handle) is kept as the cause for debugging.
        expected = all(isinstance(leaf, _Invalid | ForbiddenExtraKeysError) for _, leaf in found)
        raise ValidationError(errors) from (None if expected else exc)


# ---------------------------------------------------------------------------------------------
# From cattrs' exception tree to FieldErrors


def _walk(
    exc: BaseException, path: tuple[Any, ...], out: list[tuple[tuple[Any, ...], BaseException]]
) -> None:
    """Flatten cattrs' exception tree into (path tuple, leaf exception) pairs."""
    if isinstance(exc, ClassValidationError):
        with_name, without = exc.group_exceptions()
        for sub, attr_note in with_name:
            _walk(sub, (*path, attr_note.name), out)
    elif isinstance(exc, IterableValidationError):
        with_index, without = exc.group_exceptions()
        for sub, item_note in with_index:
            _walk(sub, (*path, item_note.index), out)
    else:
        out.append((path, exc))
        return
    for sub in without:
        _walk(sub, path, out)


def _field_errors(
    path: tuple[Any, ...], exc: BaseException, merged: Merged, deadline: float
) -> list[FieldError]:
    if isinstance(exc, ForbiddenExtraKeysError):
        # Capped like the converter's per-container errors: each unknown key costs a difflib
        # search, and 20,000 of them blocked the event loop for seconds.
        keys = sorted(exc.extra_fields, key=str)
        errors = [
            _field_error((*path, key), _unknown_key(key, exc.cl), merged, deadline)
            for key in keys[:_MAX_ITEM_ERRORS]
        ]
        if len(keys) > _MAX_ITEM_ERRORS:
            more = f"{len(keys) - _MAX_ITEM_ERRORS} more unknown keys (not listed)"
            errors.append(_field_error(path, more, merged, deadline))
        return errors
    if type(exc) is KeyError and path and exc.args == (path[-1],):
        return [_field_error(path, "missing required field", merged, deadline)]
    if isinstance(exc, _Invalid):
        return [_field_error(path, str(exc), merged, deadline)]
    return [_field_error(path, str(exc) or type(exc).__name__, merged, deadline)]


def _unknown_key(key: str, cl: type) -> str:
    names = [f.name for f in _fields(cl)]
    close = difflib.get_close_matches(str(key), names, n=1)
    if close:
        return f"unknown key {key!r} (did you mean {close[0]!r}?)"
    known = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    return f"unknown key {key!r} (known keys: {known})" if names else f"unknown key {key!r}"


def _fields(cl: type) -> tuple[Any, ...]:
    if attrs.has(cl):
        return tuple(attrs.fields(cl))
    if dataclasses.is_dataclass(cl):
        return dataclasses.fields(cl)
    return ()


def _field_error(
    path: tuple[Any, ...], message: str, merged: Merged, deadline: float
) -> FieldError:
    value = _lookup(merged.data, path)
    layer = merged.origin(path)
    line = column = None
    if layer is not None and _locatable(layer) and time.perf_counter() < deadline:
        position = layer.locate(path)
        if position is None:
            # A missing field or an unlocatable item: point at the nearest enclosing value
            # the layer supplied.
            position = layer.locate(_present_prefix(merged, path))
        if position is not None:
            line, column = position
    return FieldError(
        path=dotted(path),
        message=message,
        value=None if value is _MISSING else value,
        source=_source_name(layer, path),
        line=line,
        column=column,
    )


def _locatable(layer: Layer) -> bool:
    if layer.raw is None or layer.format is None:
        return True  # nothing to read: its locate() answers at once
    return len(layer.raw) <= INLINE_LIMITS[layer.format]


def _lookup(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return data


def _present_prefix(merged: Merged, path: tuple[Any, ...]) -> tuple[Any, ...]:
    prefix = path
    while prefix and prefix not in merged.origins:
        prefix = prefix[:-1]
    return prefix


def _source_name(layer: Layer | None, path: tuple[Any, ...]) -> str | None:
    if layer is None:
        return None
    # Not isinstance(layer, Describes): a runtime-checkable Protocol check costs ~80 µs on
    # Python 3.11, which made it most of the time spent reporting 20,000 bad list items.
    describe = getattr(layer, "describe", None)
    if describe is not None:
        return str(describe(path))
    return layer.name
