"""The ConfigError tree: ``clone()`` for every subclass, pickling, and what ``last_error`` keeps."""

from __future__ import annotations

import copy
import importlib
import pickle
import pkgutil
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from support import wait_until, write_atomic

import trioconf
from trioconf import (
    ConcurrentModification,
    ConfigError,
    FieldError,
    LockTimeout,
    MissingSourceError,
    OperationTimeout,
    ParseError,
    RejectedError,
    SourceError,
    UnknownFormatError,
    ValidationError,
)

# One instance of every ConfigError class the package defines, with every field set.
EXAMPLES: dict[type[ConfigError], ConfigError] = {
    ConfigError: ConfigError("something went wrong"),
    SourceError: SourceError("/etc/app.toml", "permission denied"),
    MissingSourceError: MissingSourceError("/etc/app.toml", "does not exist"),
    UnknownFormatError: UnknownFormatError("/etc/app.ini", "cannot tell the format"),
    ParseError: ParseError("/etc/app.toml", "Invalid value", line=4, column=8),
    ValidationError: ValidationError(
        [
            FieldError("db.port", "expected an int, got a string 'x'", "x", "/etc/a.toml", 2, 8),
            FieldError("debug", "expected a boolean, got a string 'yes'", "yes", "env APP_DEBUG"),
        ]
    ),
    RejectedError: RejectedError("ValueError: db.host cannot change without a restart"),
    LockTimeout: LockTimeout("/etc/app.toml", 5.0, "pid 1234 (vim)"),
    OperationTimeout: OperationTimeout("/etc/app.toml", 30.0),
    ConcurrentModification: ConcurrentModification("/etc/app.toml"),
}


def _package_error_classes() -> set[type[ConfigError]]:
    for module in pkgutil.walk_packages(trioconf.__path__, "trioconf."):
        if not module.name.endswith("__main__"):  # importing it runs the CLI
            importlib.import_module(module.name)
    found: set[type[ConfigError]] = set()
    todo = [ConfigError]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("trioconf."):
            found.add(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_class_of_the_package_has_an_example() -> None:
    # A new ConfigError subclass must be added above, or clone() and pickling go untested.
    assert _package_error_classes() == set(EXAMPLES)


def _fields(error: BaseException) -> dict[str, Any]:
    return {k: v for k, v in vars(error).items() if k != "__notes__"}


def _raised(error: ConfigError) -> ConfigError:
    """``error`` raised from a cause, caught, as the updater holds it: with a traceback."""
    try:
        try:
            int("x")
        except ValueError as cause:
            raise error from cause
    except ConfigError as caught:
        return caught


@pytest.mark.parametrize("cls", list(EXAMPLES), ids=lambda c: c.__name__)
def test_clone_is_a_fresh_instance_with_the_same_fields(cls: type[ConfigError]) -> None:
    original = _raised(EXAMPLES[cls])
    original.__notes__ = ["seen by the updater"]  # type: ignore[attr-defined]  # add_note: 3.11+
    before = original.__traceback__
    clone = original.clone()
    assert clone is not original
    assert type(clone) is cls
    assert str(clone) == str(original)
    assert clone.args == original.args
    assert _fields(clone) == _fields(original)
    assert _fields(clone) or cls is ConfigError  # the comparison above compared something
    assert clone.__cause__ is original.__cause__
    assert isinstance(clone.__cause__, ValueError)
    assert clone.__suppress_context__ is original.__suppress_context__ is True
    assert clone.__context__ is original.__context__
    assert clone.__traceback__ is None
    assert original.__traceback__ is before
    assert getattr(clone, "__notes__", None) == getattr(original, "__notes__", None)
    assert copy.copy(original).args == original.args  # copy.copy fails without __copy__


def test_clone_has_its_own_notes() -> None:
    original = ConfigError("x")
    original.__notes__ = ["first"]  # type: ignore[attr-defined]  # add_note is 3.11+
    clone = original.clone()
    clone.__notes__.append("second")  # type: ignore[attr-defined]
    assert original.__notes__ == ["first"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("cls", list(EXAMPLES), ids=lambda c: c.__name__)
def test_errors_and_their_clones_pickle(cls: type[ConfigError]) -> None:
    # Errors cross a process boundary when a large file is parsed in a worker.
    original = _raised(EXAMPLES[cls])
    for error in (original, original.clone()):
        copied = pickle.loads(pickle.dumps(error))
        assert type(copied) is cls
        assert str(copied) == str(original)
        assert _fields(copied) == _fields(original)


async def test_clones_raised_in_several_tasks_leave_the_original_alone() -> None:
    # The bug behind clone(): one object raised in every waiting task grew one traceback
    # with all of their frames, and the copy kept in history held them all.
    original = _raised(RejectedError("no"))
    depth = _depth(original)
    caught: list[ConfigError] = []

    async def waiter(error: ConfigError) -> None:
        try:
            await trio.lowlevel.checkpoint()
            raise error
        except ConfigError as exc:
            caught.append(exc)

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(waiter, original.clone())
    assert _depth(original) == depth
    assert len({id(e) for e in caught}) == 3
    assert all(_depth(e) == 1 for e in caught)
    assert all(e.__cause__ is original.__cause__ for e in caught)


def _depth(error: BaseException) -> int:
    depth, tb = 0, error.__traceback__
    while tb is not None:
        depth, tb = depth + 1, tb.tb_next
    return depth


# ---------------------------------------------------------------------------------------------
# User subclasses: any __init__, slots, no __reduce__ of their own


class AppError(ConfigError):
    """A subclass whose __init__ takes different arguments from its message."""

    def __init__(self, service: str, *, attempts: int) -> None:
        super().__init__(f"{service}: gave up after {attempts} attempts")
        self.service = service
        self.attempts = attempts


class SlottedError(SourceError):
    __slots__ = ("__secret", "region")

    def __init__(self, path: str, region: str) -> None:
        super().__init__(path, f"unavailable in {region}")
        self.region = region
        self.__secret = region.upper()

    @property
    def secret(self) -> str:
        return self.__secret


class NewError(ConfigError):
    """A subclass that gives __new__ a signature of its own."""

    def __new__(cls, code: int) -> NewError:
        return super().__new__(cls, f"code {code}")

    def __init__(self, code: int) -> None:
        super().__init__(f"code {code}")
        self.code = code


def test_clone_of_user_subclasses() -> None:
    app = _raised(AppError("db", attempts=3)).clone()
    assert isinstance(app, AppError)
    assert (str(app), app.service, app.attempts) == ("db: gave up after 3 attempts", "db", 3)
    assert app.__traceback__ is None
    assert isinstance(app.__cause__, ValueError)

    slotted = SlottedError("/etc/a.toml", "eu").clone()
    assert (slotted.path, slotted.region, slotted.secret) == ("/etc/a.toml", "eu", "EU")
    assert str(slotted) == "/etc/a.toml: unavailable in eu"

    new = NewError(7).clone()
    assert (type(new), str(new), new.code) == (NewError, "code 7", 7)
    assert copy.copy(AppError("db", attempts=1)).attempts == 1


# ---------------------------------------------------------------------------------------------
# last_error describes what is on disk


@attrs.frozen
class Service:
    name: str
    port: int = 8080


def _port_is_fixed(new: Service, old: Service | None) -> None:
    if old is not None and new.port != old.port:
        msg = f"port cannot change without a restart ({old.port} -> {new.port})"
        raise ValueError(msg)


async def test_a_rejection_stays_the_last_error_after_an_identical_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "service.toml"
    path.write_text('name = "one"\nport = 8080\n')
    rejected = 'name = "two"\nport = 9090\n'
    async with trioconf.open_reloader(Service, path, debounce=0, validate=_port_is_fixed) as live:
        write_atomic(path, rejected)
        await wait_until(lambda: live.last_error is not None)
        error = live.last_error
        assert isinstance(error, RejectedError)
        assert "8080 -> 9090" in str(error)

        # The same bytes again, saved the way editors save. Nothing on disk changed, so the
        # error still describes it: a rejection is not forgotten because the file was saved.
        reloads = live.statistics().reloads
        write_atomic(path, rejected)
        await wait_until(lambda: live.statistics().reloads > reloads)
        assert isinstance(live.last_error, RejectedError)
        assert str(live.last_error) == str(error)
        assert live.current == Service(name="one")

        # A change that passes clears it, even one whose snapshot equals the current one.
        write_atomic(path, 'name = "one"\nport = 8080\n')
        await wait_until(lambda: live.last_error is None)
        assert live.version == 1
