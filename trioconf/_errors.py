"""The ConfigError tree: every failure trioconf reports says where it happened."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import attrs

E = TypeVar("E", bound="ConfigError")


class ConfigError(Exception):
    """A configuration could not be loaded, or a change to it was not applied.

    Every error trioconf raises or records is an instance of this class, so an application
    needs one ``except`` clause. The subclasses carry the details (file, line, column, field).
    """

    def clone(self: E) -> E:
        """A new instance of the same class, with the same fields and message, and no traceback.

        ``__cause__``, ``__context__`` and ``__suppress_context__`` are kept (the same objects),
        so the clone prints the same chain; ``__notes__`` are copied. Raising one error object
        in several tasks, or raising one that is also kept in ``live.history``, grows a single
        ``__traceback__`` with every task's frames; raise a clone instead.
        """
        cls = type(self)
        # State is copied, __init__ is not called: the subclasses' __init__ take their own
        # arguments (copy.copy fails on them for that reason), and a user's subclass may take
        # anything. BaseException.__new__ rather than cls.__new__, which a subclass may have
        # given a signature of its own; it is what pickle's default protocol does too.
        clone = BaseException.__new__(cls)
        clone.args = self.args
        clone.__dict__.update(self.__dict__)
        for name in _slot_names(cls):
            if hasattr(self, name):
                setattr(clone, name, getattr(self, name))
        notes = getattr(self, "__notes__", None)
        if isinstance(notes, list):
            clone.__notes__ = list(notes)  # type: ignore[attr-defined]  # add_note is 3.11+
        clone.__cause__ = self.__cause__
        clone.__context__ = self.__context__
        clone.__suppress_context__ = self.__suppress_context__
        return clone

    def __copy__(self: E) -> E:
        return self.clone()


class SourceError(ConfigError):
    """A source could not be read: missing, unreadable, a directory, too large.

    ``path`` is the source's path; the underlying ``OSError``, if any, is ``__cause__``.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[object, ...]:
        # Errors cross the process boundary when a large file is parsed in a worker.
        return (type(self), (self.path, self.reason))


class UnknownFormatError(SourceError, ValueError):
    """A source's format cannot be told from its name: an extension trioconf does not know.

    A ``ConfigError`` like every error about a source (its path often comes from a command
    line or the environment), and a ``ValueError``: it is raised before anything starts, plain,
    by :func:`open_reloader`, :func:`run_reloader` and :func:`load` alike."""


class MissingSourceError(SourceError):
    """A required source does not exist (and stayed absent for the grace period)."""


class ParseError(ConfigError):
    """A document is not valid JSON, TOML or YAML, or breaks a safety limit.

    ``line`` and ``column`` are 1-based, ``None`` when the parser could not tell.
    """

    def __init__(
        self, source: str, reason: str, *, line: int | None = None, column: int | None = None
    ) -> None:
        super().__init__(_where(source, line, column) + reason)
        self.source = source
        self.reason = reason
        self.line = line
        self.column = column

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_parse_error,
            (type(self), self.source, self.reason, self.line, self.column),
        )


@attrs.frozen
class FieldError:
    """One bad value: the dotted field path, what is wrong, and where the value came from."""

    path: str
    message: str
    value: object = None
    source: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = _where(self.source, self.line, self.column) if self.source else ""
        field = self.path or "(top level)"
        return f"{where}{field}: {self.message}"


class ValidationError(ConfigError):
    """The merged document does not structure into the config class.

    ``errors`` holds every bad field of the document, not only the first.
    """

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        lines = "\n".join(f"  {e}" for e in self.errors)
        count = len(self.errors)
        super().__init__(f"{count} invalid field{'s' if count != 1 else ''}:\n{lines}")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.errors,))


class RejectedError(ConfigError):
    """The user's ``validate(new, old)`` callable rejected a snapshot; its exception is
    ``__cause__``."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"rejected by validate(): {reason}")
        self.reason = reason

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.reason,))


class LockTimeout(ConfigError):
    """A file's lock was not granted within the lock timeout.

    ``path`` is the file, ``timeout`` the limit in seconds, ``holder`` who held the lock when
    that is known (``"task 'name' in this process"``, ``"pid 1234 (vim)"``), else ``None``.
    """

    def __init__(self, path: str, timeout: float, holder: str | None = None) -> None:
        held = f", held by {holder}" if holder else ""
        super().__init__(f"{path}: lock not granted within {timeout:g} s{held}")
        self.path = path
        self.timeout = timeout
        self.holder = holder

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.path, self.timeout, self.holder))


class OperationTimeout(ConfigError):
    """A guarded operation ran longer than the guard's operation timeout and was cancelled."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__(f"{path}: operation cancelled after {timeout:g} s")
        self.path = path
        self.timeout = timeout

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.path, self.timeout))


class ConcurrentModification(ConfigError):
    """The file changed during an exclusive operation, by a writer that did not take the lock."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path}: changed by another writer during a locked operation")
        self.path = path

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.path,))


def _slot_names(cls: type) -> list[str]:
    """Attributes a subclass keeps in ``__slots__`` (outside ``__dict__``)."""
    names: list[str] = []
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in ("__dict__", "__weakref__"):
                # A private slot is stored mangled (``__x`` of class C is ``_C__x``).
                private = name.startswith("__") and not name.endswith("__")
                names.append(f"_{klass.__name__.lstrip('_')}{name}" if private else name)
    return names


def _rebuild_parse_error(
    cls: type[ParseError], source: str, reason: str, line: int | None, column: int | None
) -> ParseError:
    return cls(source, reason, line=line, column=column)


def _where(source: str | None, line: int | None, column: int | None) -> str:
    if source is None:
        return ""
    if line is None:
        return f"{source}: "
    if column is None:
        return f"{source}:{line}: "
    return f"{source}:{line}:{column}: "
