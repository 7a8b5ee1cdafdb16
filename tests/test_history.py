"""What the live value keeps while the config changes: failures without tracebacks.

The tests drive ``Live`` directly, as tests/test_live.py does, with errors raised from real
frames and a real parser.
"""

from __future__ import annotations

import gc
import sys
import warnings
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

import trioconf
from trioconf._errors import ParseError, RejectedError
from trioconf._live import Live

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup


@attrs.frozen
class DB:
    host: str = "localhost"
    port: int = 5432


@attrs.frozen
class Cfg:
    db: DB = DB()
    debug: bool = False


def port(n: int) -> Cfg:
    return Cfg(db=DB(port=n))


async def _no_reload() -> None:
    raise AssertionError("reload was not expected in this test")


def make_live(initial: Any = None, **kw: Any) -> Live[Any]:
    return Live(Cfg() if initial is None else initial, origins={}, reload=_no_reload, **kw)


# --- failures: stored without tracebacks ----------------------------------------------------------


class Document:
    """Stands for a merged document held by the frames of a failed attempt."""


class PortError(Exception):
    """A user's exception whose __init__ does not take its own args (so copy.copy fails)."""

    def __init__(self, port: int, reason: str) -> None:
        super().__init__(f"port {port}: {reason}")
        self.port = port


def failed_attempt(document: Document) -> ParseError:
    """A ParseError raised from a chain as a reload attempt meets them, every link raised (so
    every one has a traceback), with ``document`` in the frames' locals."""
    try:
        {}["host"]
    except KeyError as exc:
        missing_key = exc
    try:
        try:
            try:
                raise FileNotFoundError(2, "No such file or directory", "/etc/app/x.toml")
            except OSError:
                raise PortError(70000, "out of range") from None  # __suppress_context__
        except PortError as exc:
            try:
                raise ExceptionGroup("validators", [exc, missing_key])
            except ExceptionGroup as group:
                raise RejectedError("PortError: port 70000: out of range") from group
    except RejectedError:
        error = ParseError("/etc/app/a.toml", "Invalid value", line=2, column=8)
        error.add_note("while reloading")
        try:
            raise error  # __context__: the RejectedError and its chain
        except ParseError as raised:
            assert document is not None
            return raised


def chain(exc: BaseException) -> Iterator[BaseException]:
    """Every exception reachable from ``exc``: causes, contexts, group members."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [x for x in (e.__cause__, e.__context__) if x is not None]
        if isinstance(e, BaseExceptionGroup):
            todo += e.exceptions


def test_a_stored_failure_has_no_traceback_anywhere_in_its_chain() -> None:
    live = make_live()
    original = failed_attempt(Document())
    tracebacks = [e.__traceback__ for e in chain(original)]
    assert len(tracebacks) == 6
    assert all(tb is not None for tb in tracebacks)
    failure = live._fail(original)
    stored = failure.error
    assert live.last_error is stored
    assert stored is not original
    assert [e.__traceback__ for e in chain(stored)] == [None] * len(tracebacks)
    # The original, which reload() callers receive, is left as it was.
    assert [e.__traceback__ for e in chain(original)] == tracebacks
    # The copy says the same thing, link by link.
    assert [type(e) for e in chain(stored)] == [type(e) for e in chain(original)]
    assert [str(e) for e in chain(stored)] == [str(e) for e in chain(original)]
    assert isinstance(stored, ParseError)
    assert (stored.source, stored.line, stored.column, stored.reason) == (
        "/etc/app/a.toml",
        2,
        8,
        "Invalid value",
    )
    assert stored.__notes__ == ["while reloading"]
    rejected = stored.__context__
    assert isinstance(rejected, RejectedError)
    assert rejected.reason == "PortError: port 70000: out of range"
    group = rejected.__cause__
    assert isinstance(group, ExceptionGroup)
    assert rejected.__suppress_context__
    port_error = group.exceptions[0]
    assert isinstance(port_error, PortError)
    assert port_error.port == 70000
    assert port_error.__suppress_context__
    missing = port_error.__context__
    assert isinstance(missing, FileNotFoundError)
    assert (missing.errno, missing.filename) == (2, "/etc/app/x.toml")


def test_a_stored_failure_keeps_nothing_of_the_attempt_alive() -> None:
    live = make_live()
    document = Document()
    ref = weakref.ref(document)
    error = failed_attempt(document)
    del document
    live._fail(error)
    gc.collect()
    assert ref() is not None  # the raised error's frames hold it...
    del error
    gc.collect()
    assert ref() is None  # ...the stored copy does not
    assert isinstance(live.last_error, ParseError)


def test_a_real_parse_error_is_stored_whole_without_running_the_parsers_constructor(
    tmp_path: Path,
) -> None:
    # tomli's TOMLDecodeError (compiled by mypyc) warns when built from its message alone, and
    # keeps its fields in slots: the copy is made without its __init__, fields set one by one.
    path = tmp_path / "app.toml"
    path.write_text('name = "a"\nport = = 1\n')
    with pytest.raises(ParseError) as info:
        trioconf.load(Cfg, path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stored = make_live()._fail(info.value).error
    assert caught == []
    assert str(stored) == f"{path}:2:8: Invalid value"
    assert type(info.value.__context__).__name__ == "TOMLDecodeError"
    context = stored.__context__
    assert type(context) is type(info.value.__context__)
    assert context is not None
    assert context.__traceback__ is None
    assert (context.lineno, context.colno, context.msg) == (2, 8, "Invalid value")  # type: ignore[attr-defined]


def test_an_exception_that_cannot_be_copied_is_named_by_a_stand_in() -> None:
    class Stubborn(Exception):
        def __new__(cls, port: int, reason: str) -> Stubborn:
            return super().__new__(cls, port, reason)

        def __init__(self, port: int, reason: str) -> None:
            super().__init__(f"port {port}: {reason}")

    live = make_live()
    try:
        try:
            raise Stubborn(70000, "out of range")
        except Stubborn as exc:
            raise RejectedError("Stubborn: port 70000: out of range") from exc
    except RejectedError as error:
        stored = live._fail(error).error
    cause = stored.__cause__
    assert type(cause) is Exception
    assert str(cause) == f"{__name__}.{Stubborn.__qualname__}: port 70000: out of range"
    assert cause.__traceback__ is None


def test_a_chain_that_loops_back_is_copied_once() -> None:
    first, second = ParseError("a.toml", "bad"), ValueError("loop")
    first.__context__ = second
    second.__context__ = first
    stored = make_live()._fail(first).error
    assert isinstance(stored.__context__, ValueError)
    assert stored.__context__.__context__ is stored
