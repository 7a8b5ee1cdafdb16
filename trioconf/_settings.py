"""Every argument of the public entry points, checked in one place before anything starts.

``open_reloader``, ``run_reloader`` and ``load`` keep their keywords (what users read in their
signatures and docs), and their first statement builds one of the frozen values below: a
typo such as ``backend="inotfy"``, ``debounce=-1`` or ``history_size=0``, an instance where the
config class belongs, a class that cattrs cannot structure, or an ``async def`` validator is a
plain ``TypeError``/``ValueError`` raised right there, never one found by a stage after the
initial load, inside an ExceptionGroup. The pipeline then gets each stage its slice.

The shape leaves room for what is coming: options that change how a document becomes a config
(converter hooks, secrets) join ``Reading``, shared with ``load()``; options of the running
reloader (restart-only fields, signals, a remote source's cache) join ``Settings``.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os
import signal
import threading
import typing
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import StructureHandlerNotFoundError

from ._converter import Configure, StrictConverter, make_converter
from ._overrides import Overrides
from ._profiles import check_var
from ._search import FirstFound
from ._source import Source
from ._sources import Directory, DotEnv, Env, File, absolute, as_source, matcher
from ._units import MisplacedUnit
from ._watch._watchfiles import require_watchfiles

T = TypeVar("T")
Backend = Literal["auto", "inotify", "poll", "watchfiles"]
SourceSpec = str | os.PathLike[str] | File | Env | DotEnv | Directory | Source | FirstFound
AnySource = File | Env | DotEnv | Directory | Source | Overrides | FirstFound
Validate = Callable[[T, T | None], object]

MAX_SIZE = 16 * 1024 * 1024
"""The default ``max_size``: files larger than this many bytes are refused."""

BACKENDS = ("auto", "inotify", "poll", "watchfiles")


# --- validators: TypeError for a value of the wrong kind, ValueError for a wrong value -------


def _seconds(*, positive: bool) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        # bool is an int to Python, never a number of seconds to a reader.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            msg = f"{attribute.name} must be a number of seconds, not {value!r}"
            raise TypeError(msg)
        if math.isnan(value) or (value <= 0 if positive else value < 0):
            bound = "positive" if positive else "zero or more"
            msg = f"{attribute.name} must be {bound}, not {value!r}"
            raise ValueError(msg)

    return check


def _count(minimum: int) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            msg = f"{attribute.name} must be an int, not {value!r}"
            raise TypeError(msg)
        if value < minimum:
            msg = f"{attribute.name} must be at least {minimum}, not {value!r}"
            raise ValueError(msg)

    return check


def _flag(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, bool):
        msg = f"{attribute.name} must be True or False, not {value!r}"
        raise TypeError(msg)


def _config_class(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, type):
        what = f"an instance of {type(value).__name__}" if value is not None else "None"
        msg = f"the config class must be a class (an attrs class or a dataclass), not {what}"
        raise TypeError(msg)


def _environ(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, Mapping):
        msg = f"environ must be a mapping of names to values (or None), not {value!r}"
        raise TypeError(msg)


def _backend(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value not in BACKENDS:
        msg = f"backend must be 'auto', 'inotify', 'poll' or 'watchfiles', not {value!r}"
        raise ValueError(msg)
    if value == "watchfiles":
        require_watchfiles()  # ModuleNotFoundError naming the extra, before anything starts


# Signals no process can catch: a receiver for them would never see one (Windows has neither).
_UNCATCHABLE = frozenset(
    getattr(signal, name) for name in ("SIGKILL", "SIGSTOP") if hasattr(signal, name)
)


def _signal(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"reload_signal must be a signal number such as signal.SIGHUP, not {value!r}"
        raise TypeError(msg)
    try:
        signum = signal.Signals(value)
    except ValueError:
        msg = f"reload_signal {value!r} is no signal on this system"
        raise ValueError(msg) from None
    if signum in _UNCATCHABLE:
        msg = f"reload_signal cannot be {signum.name}: no process can catch it"
        raise ValueError(msg)


def _configure(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not callable(value) or isinstance(value, type):
        msg = f"converter must be a function configure(converter) registering hooks, not {value!r}"
        raise TypeError(msg)
    if inspect.iscoroutinefunction(value):
        msg = "converter must be a plain (sync) function: an async one would never run"
        raise TypeError(msg)


def _validate(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not callable(value):
        msg = f"validate must be a function validate(new, old), not {value!r}"
        raise TypeError(msg)
    if inspect.iscoroutinefunction(value) or inspect.iscoroutinefunction(
        getattr(value, "__call__", None)  # noqa: B004 (an instance with an async __call__)
    ):
        msg = (
            "validate must be a plain (sync) function: an async one would never be awaited. "
            "Validation has to be quick and local; do I/O before the snapshot is needed"
        )
        raise TypeError(msg)


def _sources(
    specs: tuple[SourceSpec, ...],
    env_prefix: str | None,
    env_file: str | os.PathLike[str] | None = None,
) -> tuple[AnySource, ...]:
    if env_prefix is not None and not isinstance(env_prefix, str):
        msg = f"env_prefix must be a string such as 'APP_', not {env_prefix!r}"
        raise TypeError(msg)
    if env_file is not None and not isinstance(env_file, str | os.PathLike):
        msg = f"env_file must be a path such as '.env', not {env_file!r}"
        raise TypeError(msg)
    if env_file is not None and env_prefix is None:
        msg = "env_file needs env_prefix: the .env file's variables are read as APP_* are"
        raise ValueError(msg)
    sources: list[AnySource] = [
        _user_source(s)
        if isinstance(s, type | Source)
        else s
        if isinstance(s, FirstFound)
        else as_source(s)
        for s in specs
    ]
    users = [s for s in sources if isinstance(s, Source)]
    if len({id(s) for s in users}) < len(users):
        # Its tokens and its task are one: which of its two places would a change go to?
        msg = "the same Source instance is passed twice; pass it once, at its place"
        raise ValueError(msg)
    if env_prefix is not None:
        if env_file is not None:  # below the environment, whose variables win
            sources.append(DotEnv(env_file, env_prefix))
        sources.append(Env(env_prefix))
    return tuple(sources)  # an unknown extension is refused by the Loader, before any task


def _user_source(spec: object) -> Source:
    if isinstance(spec, type):
        if issubclass(spec, Source):
            msg = f"pass an instance of {spec.__name__} as a source, not the class itself"
        else:
            msg = f"a source is a path, File, Directory, Env or Source, not {spec!r}"
        raise TypeError(msg)
    assert isinstance(spec, Source)
    name = getattr(spec, "name", None)
    if not isinstance(name, str) or not name:
        what = type(spec).__name__
        msg = f"{what} must set name (a non-empty str naming it in errors), not {name!r}"
        raise TypeError(msg)
    return spec


# --- the values -------------------------------------------------------------------------------


@attrs.frozen
class Options:
    """Everything that decides how bytes become a config, fixed for a reloader's lifetime."""

    allow_nan: bool = False
    strict_env: bool = False
    max_size: int = MAX_SIZE
    parse_timeout: float = 10.0
    missing_grace: float = 1.0
    lock_timeout: float = 5.0  # waiting for a cooperating writer's lock (FileGuard)
    profile_var: str | None = None  # the variable naming the profiles (``_profiles``)


@attrs.frozen(kw_only=True)
class Reading(Generic[T]):
    """How the sources become a config: everything ``load()`` takes, and the reloader too."""

    cls: type[T] = attrs.field(validator=_config_class)
    sources: tuple[AnySource, ...]
    strict_env: bool = attrs.field(default=False, validator=_flag)
    forbid_unknown: bool = attrs.field(default=True, validator=_flag)
    allow_nan: bool = attrs.field(default=False, validator=_flag)
    max_size: int = attrs.field(default=MAX_SIZE, validator=_count(1))
    lock_timeout: float = attrs.field(default=5.0, validator=_seconds(positive=True))
    environ: Mapping[str, str] | None = attrs.field(default=None, validator=_environ)
    converter: Configure | None = attrs.field(default=None, validator=_configure)
    profile_var: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.profile_var is not None and isinstance(self.cls, type):
            envs = [s for s in self.sources if isinstance(s, Env | DotEnv)]
            check_var(self.profile_var, self.cls, envs)

    @classmethod
    def of(
        cls,
        config: type[T],
        specs: tuple[SourceSpec, ...],
        env_prefix: str | None,
        *,
        env_file: str | os.PathLike[str] | None = None,
        overrides: Mapping[str, object] | None = None,
        **kw: Any,
    ) -> Reading[T]:
        sources = _sources(specs, env_prefix, env_file)
        if isinstance(config, type):  # else the class validator says what is wrong
            top = Overrides.of(config, overrides)  # the top layer, above the environment
            sources = sources if top is None else (*sources, top)
        return cls(cls=config, sources=sources, **kw)

    def make_converter(self) -> StrictConverter:
        """The strict converter, with the user's hooks (``converter=``) registered."""
        return make_converter(
            allow_nan=self.allow_nan, forbid_unknown=self.forbid_unknown, configure=self.converter
        )

    def check_structurable(self, converter: cattrs.Converter) -> None:
        """Refuse a class this converter cannot structure now, rather than as a
        ValidationError on every load: a field type with no hook (a plain class), down
        through nested classes, containers and unions (cattrs makes those hooks lazily), or
        annotations that do not resolve."""
        try:
            for tp in _types_in(self.cls, set()):
                converter.get_structure_hook(tp)
        except StructureHandlerNotFoundError as exc:
            name = getattr(exc.type_, "__name__", repr(exc.type_))
            msg = (
                f"{self.cls.__name__} cannot be loaded: its fields use the type {name}, "
                "which trioconf cannot build from a config document"
            )
            raise TypeError(msg) from None
        except MisplacedUnit as exc:
            raise TypeError(f"{self.cls.__name__} cannot be loaded: {exc}") from None
        except (NameError, TypeError) as exc:
            # Annotations evaluated here for the first time: a name imported only under
            # TYPE_CHECKING, or ``X | None`` where X is not a class.
            msg = f"{self.cls.__name__} cannot be loaded: its annotations do not resolve ({exc})"
            raise TypeError(msg) from exc


def _types_in(tp: Any, seen: set[type]) -> Iterator[Any]:
    """``tp`` and every type inside it: its arguments, and a class's field types."""
    if tp is Any or tp is type(None):
        return  # anything goes; None is structured by the union it belongs to
    if get_origin(tp) is Literal:
        yield tp  # its arguments are values, not types
        return
    if get_origin(tp) is Annotated:
        # Its metadata are values too; the Annotated type has a hook of its own (a unit's).
        yield from _types_in(get_args(tp)[0], seen)
        yield tp
        return
    for arg in get_args(tp):
        if arg is not Ellipsis:
            yield from _types_in(arg, seen)
    if isinstance(tp, type) and (attrs.has(tp) or dataclasses.is_dataclass(tp)):
        if tp in seen:
            return  # a recursive class: its fields are being walked already
        seen.add(tp)
        hints = typing.get_type_hints(tp, include_extras=True)
        cls: Any = tp  # mypy narrows tp to a union neither fields() accepts
        fields = attrs.fields(cls) if attrs.has(cls) else dataclasses.fields(cls)
        names = [f.name for f in fields]
        for name in names:
            yield from _types_in(hints[name], seen)
    yield tp


@attrs.frozen(kw_only=True)
class Settings(Generic[T]):
    """Every argument of ``open_reloader`` / ``run_reloader``, checked."""

    reading: Reading[T]
    debounce: float = attrs.field(default=0.05, validator=_seconds(positive=False))
    max_debounce: float = attrs.field(default=0.5, validator=_seconds(positive=False))
    backend: Backend = attrs.field(default="auto", validator=_backend)
    poll_interval: float = attrs.field(default=1.0, validator=_seconds(positive=True))
    validate: Validate[T] | None = attrs.field(default=None, validator=_validate)
    missing_grace: float = attrs.field(default=1.0, validator=_seconds(positive=False))
    parse_timeout: float = attrs.field(default=10.0, validator=_seconds(positive=True))
    history_size: int = attrs.field(default=64, validator=_count(1))
    commit_trigger: Path | None = attrs.field(
        default=None, converter=attrs.converters.optional(absolute)
    )
    reload_signal: int | None = attrs.field(default=None, validator=_signal)

    def __attrs_post_init__(self) -> None:
        if self.max_debounce < self.debounce:
            msg = f"need 0 <= debounce <= max_debounce, got {self.debounce} and {self.max_debounce}"
            raise ValueError(msg)
        if self.commit_trigger is not None:
            _check_trigger(self.commit_trigger, self.reading.sources)
        if (
            self.reload_signal is not None
            and threading.current_thread() is not threading.main_thread()
        ):
            # Python delivers signals to the main thread only, and trio's receivers live there.
            msg = (
                "reload_signal needs trio.run in the main thread; in another thread, receive "
                "the signal where you can and call live.request_reload()"
            )
            raise ValueError(msg)

    @property
    def options(self) -> Options:
        """The loader's slice."""
        reading = self.reading
        return Options(
            allow_nan=reading.allow_nan,
            strict_env=reading.strict_env,
            max_size=reading.max_size,
            parse_timeout=self.parse_timeout,
            missing_grace=self.missing_grace,
            lock_timeout=reading.lock_timeout,
            profile_var=reading.profile_var,
        )


def _check_trigger(trigger: Path, sources: tuple[AnySource, ...]) -> None:
    """A trigger is watched, never read: one that is also a source would never be read."""
    for source in sources:
        if isinstance(source, File) and source.path == trigger:
            msg = f"commit_trigger {trigger} is also a source; use a file of its own (a stamp)"
            raise ValueError(msg)
        if (
            isinstance(source, Directory)
            and trigger.parent == source.path
            and matcher(source.pattern)(trigger.name)
        ):
            msg = (
                f"commit_trigger {trigger} matches the pattern of Directory({source.path}); "
                "name it so that the folder does not read it (a dot file is never read)"
            )
            raise ValueError(msg)
