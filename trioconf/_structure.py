"""Running the strict converter on a merged document, and its failures as FieldErrors.

The converter (``_converter``) structures a good document with its fast twin; a bad one it
structures again with detailed validation, which collects every bad field as a tree of cattrs
ExceptionGroups whose sub-exceptions carry ``AttributeValidationNote`` (a field name) or
``IterableValidationNote`` (a list index or mapping key) in ``__notes__``.
Walking that tree gives each error's path as a tuple, which is what ``Merged.origins`` and
``Layer.locate`` need; parsing cattrs' ``"@ $.a.b"`` strings back would break on keys
containing dots. Kept apart from the hooks because it is the other half of the job: the hooks
say *what* is wrong with a value, this module says *where* (path, source, line and column).
"""

from __future__ import annotations

import dataclasses
import difflib
import time
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    StructureHandlerNotFoundError,
)

from ._constructor import blamed_field, failure_message
from ._converter import _MAX_ITEM_ERRORS, _Invalid, is_bug
from ._errors import FieldError, ValidationError
from ._formats import INLINE_LIMITS
from ._kinds import _describe, _kind
from ._layer import Layer
from ._marks import MASK, has_secrets, secret_at
from ._merge import Merged, dotted

T = TypeVar("T")
_MISSING = object()
# A leaf of cattrs' error tree: its path, the exception, and the class whose constructor raised
# it (None when a hook or cattrs raised it while structuring a value).
Leaf = tuple[tuple[Any, ...], BaseException, type | None]
# Positions are a courtesy, and each lookup re-reads the layer's text (about 2 µs a byte for
# YAML), in the updater's task: a file with 20,000 wrong items blocked the event loop for
# minutes when every error was located. So errors are located in order until this much time
# is spent, and only in layers small enough to have been parsed inline (``INLINE_LIMITS``);
# the rest still name their field and source, without line and column.
_LOCATE_BUDGET = 0.05


class _Budget:
    """Time for locating errors. The first error is always located (whatever ran before it,
    a garbage-collector pass on a loaded machine, say), the others until the time is spent."""

    def __init__(self, seconds: float) -> None:
        self._deadline = time.perf_counter() + seconds
        self._first = True

    def allows(self) -> bool:
        if self._first:
            self._first = False
            return True
        return time.perf_counter() < self._deadline


class _Report:
    """What every error of one document is made with: the time left for locating, and the
    class, which says which values are secret (shown as ``MASK``, in the value and the
    message alike)."""

    def __init__(self, budget: _Budget, cls: type) -> None:
        self.budget = budget
        self._cls = cls
        self._any_secret = has_secrets(cls)

        self.masked = False  # set once an error's value was not shown

    def secret(self, path: tuple[Any, ...]) -> bool:
        found = self._any_secret and secret_at(self._cls, path)
        self.masked = self.masked or found
        return found


def _scrubbed(message: str, value: Any) -> str:
    """``message`` without ``value``: our hooks say "got a string 'x'" (shortened when long),
    a user's validator may quote it any way; each spelling is replaced."""
    if value is None:
        return message
    message = message.replace(_describe(value), _kind(value))
    for text in sorted({repr(value), str(value)}, key=len, reverse=True):
        if text:
            message = message.replace(text, MASK)
    return message


def structure(converter: cattrs.Converter, cls: type[T], merged: Merged) -> T:
    """Structure ``merged.data`` into ``cls``.

    Raises ``ValidationError`` holding every ``FieldError`` of the document, each with its
    dotted path, a message, the offending value, the source that supplied it and, when the
    source can tell, its line and column. The user's own code that runs while the classes are
    built (validators, converters, post-init hooks) reports bad data the same way. An exception
    raised by trioconf's own hooks is a bug, not bad data: it propagates unchanged.
    """
    try:
        return converter.structure(merged.data, cls)
    except Exception as exc:
        failure = exc
    # Out of the ``except`` block: a bug re-raised inside it would chain the whole tree to it.
    found: list[Leaf] = []
    _walk(failure, (), found)
    for _, leaf, built in found:
        if built is None and is_bug(leaf):
            raise leaf
    report = _Report(_Budget(_LOCATE_BUDGET), cls)
    errors = [e for leaf in found for e in _field_errors(leaf, merged, report)]
    # Our own rejections and cattrs' bookkeeping need no traceback; anything else (the user's
    # validators, a schema cattrs cannot handle) is kept as the cause for debugging.
    expected = all(
        built is None and isinstance(leaf, _Invalid | ForbiddenExtraKeysError)
        for _, leaf, built in found
    )
    # A masked value must not come back through the cause: the user's validator's exception
    # quotes whatever it was given.
    raise ValidationError(errors) from (None if expected or report.masked else failure)


# ---------------------------------------------------------------------------------------------
# From cattrs' exception tree to FieldErrors


def _walk(exc: BaseException, path: tuple[Any, ...], out: list[Leaf]) -> None:
    """Flatten cattrs' exception tree into (path tuple, leaf exception, class) triples."""
    if isinstance(exc, ClassValidationError):
        with_name, without = exc.group_exceptions()
        for sub, attr_note in with_name:
            _walk(sub, (*path, attr_note.name), out)
        for sub in without:
            # cattrs notes each field's failure with the field's name and raises before the
            # constructor runs if any field failed. Un-noted, besides the unknown keys, is only
            # the failure of ``cl(**values)`` (cattrs.gen: ``except Exception as exc: raise
            # __c_cve(..., [exc], __cl)``): the user's code that the constructor ran.
            built = None if isinstance(sub, ForbiddenExtraKeysError) else exc.cl
            out.append((path, sub, built))
    elif isinstance(exc, IterableValidationError):
        with_index, without = exc.group_exceptions()
        for sub, item_note in with_index:
            _walk(sub, (*path, item_note.index), out)
        for sub in without:
            _walk(sub, path, out)
    else:
        out.append((path, exc, None))


def _field_errors(leaf: Leaf, merged: Merged, report: _Report) -> list[FieldError]:
    path, exc, built = leaf
    if built is not None:
        field = blamed_field(exc, built)
        message = failure_message(exc, field)
        if field is not None:
            return [_field_error((*path, field), message, merged, report)]
        # The class as a whole: its own table, or for the config class itself the document,
        # named by the layer of highest precedence that supplied any of it (as ``Merged``
        # names an inner table's origin).
        layer = None if path else _top_layer(merged)
        return [_field_error(path, message, merged, report, layer=layer)]
    if isinstance(exc, StructureHandlerNotFoundError):
        # The class, not the document, is wrong; cattrs' advice to register a hook is for
        # cattrs users, and the converter is trioconf's own.
        name = getattr(exc.type_, "__name__", repr(exc.type_))
        message = f"unsupported field type {name}: the config class must change, not the value"
        return [_field_error(path, message, merged, report)]
    if isinstance(exc, ForbiddenExtraKeysError):
        # Capped like the converter's per-container errors: each unknown key costs a difflib
        # search, and 20,000 of them blocked the event loop for seconds.
        keys = sorted(exc.extra_fields, key=str)
        errors = [
            _field_error((*path, key), _unknown_key(key, exc.cl), merged, report)
            for key in keys[:_MAX_ITEM_ERRORS]
        ]
        if len(keys) > _MAX_ITEM_ERRORS:
            more = f"{len(keys) - _MAX_ITEM_ERRORS} more unknown keys (not listed)"
            errors.append(_field_error(path, more, merged, report))
        return errors
    if type(exc) is KeyError and path and exc.args == (path[-1],):
        return [_field_error(path, "missing required field", merged, report)]
    if isinstance(exc, _Invalid):
        return [_field_error(path, str(exc), merged, report)]
    return [_field_error(path, str(exc) or type(exc).__name__, merged, report)]


def _unknown_key(key: str, cl: type) -> str:
    every = _fields(cl)
    if any(f.name == key and not f.init for f in every):
        # A field the class computes itself (``init=False``): cattrs passes no value to it.
        return f"key {key!r} names a field {cl.__name__} sets itself (init=False): no file sets it"
    names = [f.name for f in every if f.init]
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


def _top_layer(merged: Merged) -> Layer | None:
    return next((layer for layer in reversed(merged.layers) if layer.data), None)


def _field_error(
    path: tuple[Any, ...],
    message: str,
    merged: Merged,
    report: _Report,
    *,
    layer: Layer | None = None,
) -> FieldError:
    """``layer``: the source to blame, if not the one that supplied ``path`` (or its table)."""
    value = _lookup(merged.data, path)
    layer = layer or merged.origin(path)
    line = column = None
    # The root has no line of its own to point at (its first key would be arbitrary).
    if path and layer is not None and _locatable(layer) and report.budget.allows():
        position = layer.locate(path)
        if position is None:
            # A missing field or an unlocatable item: point at the nearest enclosing value
            # the layer supplied.
            position = layer.locate(_present_prefix(merged, path))
        if position is not None:
            line, column = position
    value = None if value is _MISSING else value
    if report.secret(path):
        message, value = _scrubbed(message, value), MASK
    return FieldError(
        path=dotted(path),
        message=message,
        value=value,
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
    return None if layer is None else layer.describe(path)
