"""The ``trioconf`` command line: ``check`` validates files once, ``watch`` prints each reload.

Both commands take the config class as ``--schema MODULE:CLASS``, where MODULE is a dotted
module importable from the current directory or a path to a ``.py`` file. Both read a file
that a cooperating writer (a ``FileGuard``) is changing under its shared lock, waiting for it
up to the reloader's default ``lock_timeout``. Exit statuses: 0 for
a valid config, 1 for an invalid one (every error on stderr), 2 for a usage error, and 128 plus
the signal number when ``watch`` is stopped by Ctrl-C (130) or SIGTERM (143).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import json
import logging
import math
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import attrs
import trio

from . import load, open_reloader
from ._errors import ConfigError, LockTimeout, ParseError, SourceError, UnknownFormatError
from ._etcd import Etcd
from ._explain import explain
from ._keyed import entry_type
from ._live import Live
from ._load import load_with_origins
from ._marks import MASK, secret_at
from ._overrides import Overrides, Text, split_key
from ._profiles import check_var
from ._records import Cleared, Failure, PastUpdate, Update
from ._schema import json_schema
from ._search import FirstFound
from ._settings import BACKENDS, Settings
from ._source import Source
from ._sources import Directory, Env, File, SecretsDir, format_of
from ._updater import check as check_config
from ._version import __version__
from ._watch._watchfiles import watchfiles_available

_DEFAULTS = attrs.fields(Settings)  # the reloader's own defaults, stated once
# What the command line reads from: files and folders, --secrets folders, an --etcd source.
Named = File | Directory | Source | FirstFound


class UsageError(Exception):
    """A bad command line: reported in one line, exit status 2."""


def main(argv: list[str] | None = None) -> int:
    """Run the ``trioconf`` command; returns the exit status instead of exiting."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on bad arguments
        return exc.code if isinstance(exc.code, int) else 2
    try:
        if args.command == "schema":
            return _print_json_schema(args)
        schema = _import_schema(args.schema)
        files = _sources(schema, args)
        if args.command == "check":
            return _check(schema, files, args)
        return _watch(schema, files, args)
    except UsageError as exc:
        print(f"{parser.prog} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Ctrl-C outside the watch loop's signal receiver (while importing the schema, or
        # before the receiver is installed, where no nursery can wrap it): stop quietly.
        return 128 + signal.SIGINT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trioconf", description="Validate or watch typed configuration files."
    )
    parser.add_argument("--version", action="version", version=f"trioconf {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser(
        "check",
        help="load and validate once; exit 1 listing every error",
        description="Load FILE... (lowest precedence first) into CLASS once and validate it.",
    )
    watch = commands.add_parser(
        "watch",
        help="run a reloader and print every applied or rejected change until Ctrl-C",
        description="Watch FILE... and print each applied change and each rejected reload.",
    )
    for sub in (check, watch):
        sub.add_argument(
            "files",
            nargs="*",
            metavar="FILE",
            help="config files, lowest first; a folder counts as a trioconf.Directory "
            "(its files layered in name order, or entries with --key)",
        )
        sub.add_argument(
            "--schema",
            required=True,
            metavar="MODULE:CLASS",
            help="the config class: a dotted module (importable from the current "
            "directory) or a path to a .py file, then ':' and the class name",
        )
        sub.add_argument(
            "--env-prefix", metavar="P", help="apply environment variables P* after the files"
        )
        sub.add_argument(
            "--strict-env", action="store_true", help="reject P* variables that match no field"
        )
        sub.add_argument(
            "--env-file",
            metavar="PATH",
            help="a .env file of P* variables (needs --env-prefix), read before the "
            "environment, whose variables win; optional and watched",
        )
        sub.add_argument(
            "--set",
            action="append",
            default=[],
            dest="overrides",
            metavar="KEY=VALUE",
            help="override one field, above every source: db.port=5433 (VALUE is read as an "
            'environment variable\'s; quote a key segment that has a dot: tenants."a.eu".port=1);'
            " repeatable",
        )
        sub.add_argument(
            "--allow-unknown", action="store_true", help="ignore unknown keys in files"
        )
        sub.add_argument("--allow-nan", action="store_true", help="accept NaN and infinity")
        sub.add_argument(
            "--pattern",
            action="append",
            metavar="GLOB",
            help="for folders: the file names that count (default: every file); repeatable, "
            "a name that matches any GLOB counts",
        )
        sub.add_argument(
            "--key",
            metavar="FIELD",
            help="for folders: each file becomes an entry of the dict field FIELD, keyed by "
            "its name without the extension, instead of a layer",
        )
        sub.add_argument(
            "--optional",
            action="append",
            default=[],
            metavar="FILE",
            help="one of the FILEs that may be missing (its layer then drops out); repeatable",
        )
        sub.add_argument(
            "--first-found",
            action="append",
            default=[],
            metavar="PATH",
            help="a location of a search path, highest precedence first (repeat it): the first "
            "that holds a file is read, before the FILEs; $VAR and ~ are expanded",
        )
        sub.add_argument(
            "--profile-var",
            metavar="NAME",
            help="the environment variable naming the profiles (prod or prod,eu): each file "
            "config.toml is followed by config.prod.toml, then config.eu.toml, if present",
        )
        sub.add_argument(
            "--format",
            action="append",
            default=[],
            metavar="FILE=FORMAT",
            help="read one of the FILEs as json, toml or yaml whatever its extension; "
            "repeatable (check --print: json or text alone is the printout's format)",
        )
        sub.add_argument(
            "--secrets",
            action="append",
            default=[],
            metavar="DIR",
            help="a folder of secrets, one file per field (a Kubernetes Secret mount, "
            "/run/secrets), after the FILEs; repeatable",
        )
        sub.add_argument(
            "--etcd",
            action="append",
            default=[],
            metavar="URL",
            help="an etcd source after the FILEs (its gateway, http://host:2379; repeatable: "
            "the members of one cluster), with --prefix P (keys as fields) or --etcd-key KEY "
            "(one key holding a document)",
        )
        sub.add_argument("--prefix", metavar="P", help="--etcd: the keys' prefix, e.g. /app/")
        sub.add_argument("--etcd-key", metavar="KEY", help="--etcd: the key holding a document")
        sub.add_argument(
            "--converter",
            metavar="MODULE:FUNC",
            help="the service's configure(converter), which registers hooks for its own types",
        )
        sub.add_argument(
            "--validate",
            metavar="MODULE:FUNC",
            help="the service's validate(new, old), run on the loaded config (with old=None)",
        )
    check.add_argument(
        "--print",
        action="store_true",
        dest="print_config",
        help="once the test passes, print the effective config, each value with its origin "
        "(secrets masked), and the test's own lines on stderr; --format json for JSON",
    )
    watch.add_argument(
        "--debounce",
        type=_seconds,
        default=_DEFAULTS.debounce.default,
        metavar="S",
        help="quiet window in seconds",
    )
    watch.add_argument(
        "--max-debounce",
        type=_seconds,
        metavar="S",
        help="apply at least this often during a storm of writes (default: 0.5, or the "
        "debounce if that is longer)",
    )
    watch.add_argument("--backend", choices=BACKENDS, default=_DEFAULTS.backend.default)
    _add_schema_command(commands)
    watch.add_argument(
        "--exec",
        dest="exec_command",
        metavar="CMD",
        help="run CMD (through the shell) after each applied change, with TRIOCONF_VERSION "
        "and TRIOCONF_CHANGED (the changed paths, comma-separated) in its environment",
    )
    watch.add_argument(
        "--poll-interval",
        type=_positive_seconds,
        default=_DEFAULTS.poll_interval.default,
        metavar="S",
        help="for the poll backend",
    )
    return parser


def _seconds(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        msg = f"expected a finite number of seconds >= 0, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _positive_seconds(text: str) -> float:
    value = _seconds(text)
    if value == 0:
        msg = f"expected a positive number of seconds, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _max_debounce(args: argparse.Namespace) -> float:
    if args.max_debounce is not None:
        if args.max_debounce < args.debounce:
            msg = "--max-debounce must not be shorter than --debounce"
            raise UsageError(msg)
        return float(args.max_debounce)
    default = cast(float, _DEFAULTS.max_debounce.default)
    return max(default, float(args.debounce))


def _import_schema(spec: str) -> type[Any]:
    obj = _import_object(spec, "--schema", "CLASS")
    if not isinstance(obj, type):
        msg = f"--schema {spec!r}: {spec.rpartition(':')[2]} is not a class"
        raise UsageError(msg)
    return obj


def _import_function(spec: str, option: str) -> Any:
    """The plain function ``--validate`` or ``--converter`` names."""
    obj = _import_object(spec, option, "FUNC")
    if not callable(obj) or inspect.iscoroutinefunction(obj):
        msg = f"{option} {spec!r}: expected a plain (sync) function"
        raise UsageError(msg)
    return obj


def _import_object(spec: str, option: str, kind: str) -> Any:
    """What ``MODULE:NAME`` names (a dotted NAME walks attributes), for ``option``."""
    module_name, sep, qualname = spec.rpartition(":")
    if not sep or not module_name or not qualname:
        msg = f"{option} {spec!r}: expected MODULE:{kind}"
        raise UsageError(msg)
    obj: Any = _import_module(module_name)
    for attr in qualname.split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            msg = f"{option} {spec!r}: {module_name} has no attribute {qualname!r}"
            raise UsageError(msg) from None
    return obj


def _import_module(name: str) -> Any:
    is_path = name.endswith(".py") or os.sep in name
    try:
        if is_path:
            return _import_path(Path(name))
        # As ``python -m`` does: modules next to where the command runs are importable.
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        return importlib.import_module(name)
    except UsageError:
        raise
    except Exception as exc:
        msg = f"--schema: cannot import {name}: {type(exc).__name__}: {exc}"
        raise UsageError(msg) from exc


def _import_path(path: Path) -> Any:
    if not path.is_file():
        msg = f"--schema: no such file: {path}"
        raise UsageError(msg)
    # Registered in sys.modules under a private name: attrs, dataclasses and cattrs resolve
    # string annotations (``from __future__ import annotations``) through the class's module.
    module_name = f"_trioconf_schema_{path.stem}"
    loaded = sys.modules.get(module_name)
    if loaded is not None and Path(getattr(loaded, "__file__", "")).resolve() == path.resolve():
        return loaded  # --schema and --validate from one file: one module, one set of classes
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        msg = f"--schema: cannot import {path}"
        raise UsageError(msg)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    # Like ``python path.py``: the schema file can import its neighbours.
    sys.path.insert(0, str(path.resolve().parent))
    spec.loader.exec_module(module)
    return module


def _version() -> str:
    # The package's own (``_version.py``), the one setuptools writes into the metadata: right
    # from a checkout too, where the installed metadata may be stale or missing.
    return __version__


def _sources(schema: type[Any], args: argparse.Namespace) -> list[Named]:
    """The sources the command line names, with the per-file options applied; a per-file
    option naming no FILE, or --key with no folder, is a usage error rather than silence."""
    _printout(args)  # a --format json|text is --print's, not a FILE's: checked here
    formats: dict[str, str] = {}
    for item in args.format:
        if item in _PRINTOUTS:
            continue
        name, sep, fmt = item.rpartition("=")
        if not sep or not name:
            msg = f"--format {item!r}: expected FILE=FORMAT"
            raise UsageError(msg)
        formats[os.path.abspath(name)] = fmt
    optional = {os.path.abspath(name) for name in args.optional}
    given = {os.path.abspath(path) for path in args.files}
    for name in sorted((optional | formats.keys()) - given):
        msg = f"{name} is not one of the FILEs (--optional and --format name a FILE given)"
        raise UsageError(msg)
    sources: list[Named] = [
        _source(schema, path, args, os.path.abspath(path) in optional, formats)
        for path in args.files
    ]
    if args.profile_var is not None:
        envs = [] if args.env_prefix is None else [Env(args.env_prefix)]
        try:
            check_var(args.profile_var, schema, envs)
        except ValueError as exc:
            raise UsageError(f"--profile-var: {exc}") from None
    if args.first_found:
        sources.insert(0, FirstFound(tuple(args.first_found)))  # the base, below the FILEs
    elif not sources:
        msg = "name the config files: FILE... or --first-found PATH (or both)"
        raise UsageError(msg)
    if args.key is not None and not any(isinstance(s, Directory) for s in sources):
        msg = f"--key {args.key} applies to folders, and none of the FILEs is a folder"
        raise UsageError(msg)
    for path in args.secrets:
        if os.path.exists(path) and not os.path.isdir(path):
            msg = f"--secrets {path}: not a folder (one file per secret goes in it)"
            raise UsageError(msg)
        sources.append(SecretsDir(path))
    etcd = _etcd(args)
    if etcd is not None:
        sources.append(etcd)
    return sources


def _etcd(args: argparse.Namespace) -> Etcd | None:
    """The ``--etcd`` source (after the FILEs and ``--secrets``), or None."""
    if not args.etcd:
        if args.prefix is not None or args.etcd_key is not None:
            option = "--prefix" if args.prefix is not None else "--etcd-key"
            raise UsageError(f"{option} is for an etcd source: give --etcd URL too")
        return None
    try:
        return Etcd(args.etcd, prefix=args.prefix, key=args.etcd_key)
    except (TypeError, ValueError, ImportError) as exc:
        raise UsageError(f"--etcd: {exc}") from None


def _name(source: Named) -> str:
    return source.name if isinstance(source, Source | FirstFound) else str(source.path)


_PRINTOUTS = ("text", "json")


def _printout(args: argparse.Namespace) -> str | None:
    """The format ``check --print`` prints in (None without ``--print``): ``--format json`` or
    ``--format text`` (a value with no ``FILE=``), else text. Given without ``--print``, or
    both, it is a usage error rather than silence."""
    chosen = {item for item in args.format if item in _PRINTOUTS}
    if len(chosen) > 1:
        msg = "--format json and --format text: --print prints in one format"
        raise UsageError(msg)
    printing = getattr(args, "print_config", False)
    if chosen and not printing:
        msg = (
            f"--format {chosen.pop()} is the format of check --print's printout"
            " (a FILE's format is --format FILE=FORMAT)"
        )
        raise UsageError(msg)
    return (chosen.pop() if chosen else "text") if printing else None


def _source(
    schema: type[Any],
    path: str,
    args: argparse.Namespace,
    optional: bool,
    formats: Mapping[str, str],
) -> File | Directory:
    fmt = formats.get(os.path.abspath(path))
    if not os.path.isdir(path):
        return _file(path, optional, fmt)
    if optional or fmt is not None:
        msg = f"{path} is a folder: --optional and --format are for files (see --pattern)"
        raise UsageError(msg)
    if format_of(os.path.basename(path.rstrip(os.sep)), None) is not None and not path.endswith(
        os.sep
    ):
        # Named like a file: most likely one that became a folder (Docker bind-mounts a file
        # missing on the host as an empty folder), not a conf.d meant to be read.
        msg = (
            f"{path} is a folder, though named like a file (a file Docker bind-mounted before "
            f"it existed becomes one); to read it as a folder of files, write {path}{os.sep}"
        )
        raise UsageError(msg)
    try:
        # Several --pattern: a name matching any of them counts.
        globs = args.pattern or ["*"]
        folder = Directory(
            path, pattern=globs[0] if len(globs) == 1 else tuple(globs), key=args.key
        )
        if folder.key is not None:
            entry_type(schema, folder)  # the key must name a dict[str, X] field
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    return folder


def _file(path: str, optional: bool, fmt: str | None) -> File:
    try:
        source = File(path, optional=optional, format=fmt)  # type: ignore[arg-type]
        source.resolved_format  # noqa: B018 - raises when the extension is unknown
    except UnknownFormatError:
        msg = f"{path}: cannot tell the format from the extension; --format {path}=json|toml|yaml"
        raise UsageError(msg) from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return source


def _check(schema: type[Any], files: Sequence[Named], args: argparse.Namespace) -> int:
    """Like ``nginx -t``: a line per file tested, then the verdict; with ``--print`` (like
    ``nginx -T``) then the effective config, the test's lines going to stderr so that stdout
    holds the printout alone (``--format json`` piped into ``jq``)."""
    validate = None if args.validate is None else _import_function(args.validate, "--validate")
    printout = _printout(args)
    say = _say if printout is None else _note
    # A load stops at the first file it cannot read or parse, so each file is first loaded
    # on its own: one broken file must not hide another's syntax error. Alone, a file may
    # well be incomplete; its field errors are judged only in the full load below.
    broken = False
    for source in files:
        error = _unreadable(schema, source, args)
        if error is not None:
            broken = True
            print(error, file=sys.stderr)
        elif isinstance(source, File) and source.optional and not source.path.exists():
            say(f"trioconf: {source.path}: absent (optional, skipped)")
        else:
            say(f"trioconf: {_name(source)}: syntax is ok")
    if not broken:
        try:
            config, origins = load_with_origins(schema, *files, **_reading(args))
            if validate is not None:
                check_config(config, None, validate)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            broken = True
    if broken:
        print("trioconf: configuration test failed", file=sys.stderr)
        return 1
    # Every layer that was read, lowest first, as load placed them: a .env file before the
    # environment, the --set overrides last.
    names = [_name(s) for s in files]
    names += [str(Path(args.env_file).absolute())] if args.env_file else []
    names += [f"env {args.env_prefix}*"] if args.env_prefix else []
    names += [f"--set {key}" for key in _overrides(args) or ()]
    checked = f", validated by {args.validate}" if validate is not None else ""
    say(
        f"trioconf: configuration test is successful "
        f"({schema.__name__} from {', '.join(names)}{checked})"
    )
    if printout is not None:
        _say(explain(config, origins, printout))
    return 0


def _reading(args: argparse.Namespace) -> dict[str, Any]:
    """The options both commands pass on, as ``load`` and ``open_reloader`` name them."""
    return {
        "converter": _configure(args),
        "env_prefix": args.env_prefix,
        "strict_env": args.strict_env,
        "forbid_unknown": not args.allow_unknown,
        "allow_nan": args.allow_nan,
        "env_file": _env_file(args),
        "overrides": _overrides(args),
        "profile_var": args.profile_var,
    }


def _env_file(args: argparse.Namespace) -> str | None:
    if args.env_file is not None and args.env_prefix is None:
        msg = "--env-file needs --env-prefix: its variables are read as the environment's are"
        raise UsageError(msg)
    return cast("str | None", args.env_file)


def _overrides(args: argparse.Namespace) -> dict[str, Text] | None:
    """``--set KEY=VALUE`` as ``overrides=``, each VALUE text to convert for its field,
    checked against the class once (a key that is malformed or names no field is a usage
    error): the split is at the first ``=`` after the key, outside its quotes."""
    if not args.overrides:
        return None
    if not hasattr(args, "checked_overrides"):
        given: dict[str, Text] = {}
        for item in args.overrides:
            try:
                _, end = split_key(item, at_equals=True)
            except ValueError as exc:
                msg = f"--set {item!r}: expected KEY=VALUE, and the KEY is malformed: {exc}"
                raise UsageError(msg) from None
            if end == len(item):
                raise UsageError(f"--set {item!r}: expected KEY=VALUE, such as db.port=5433")
            given[item[:end].strip()] = Text(item[end + 1 :])
        try:
            Overrides.of(_import_schema(args.schema), given)
        except ValueError as exc:
            raise UsageError(f"--set: {exc}") from None
        args.checked_overrides = given
    return cast("dict[str, Text]", args.checked_overrides)


def _configure(args: argparse.Namespace) -> Any:
    """The service's ``configure(converter)``, imported once (``--converter``), or None."""
    if args.converter is None:
        return None
    if not hasattr(args, "configure"):
        args.configure = _import_function(args.converter, "--converter")
    return args.configure


def _unreadable(schema: type[Any], source: Named, args: argparse.Namespace) -> ConfigError | None:
    """The error that stops ``source`` from being read or parsed at all, if any (a writer
    holding its lock past the lock timeout too: waiting for it again would only double it)."""
    try:
        load(schema, source, forbid_unknown=False, converter=_configure(args))
    except (SourceError, ParseError, LockTimeout) as exc:
        return exc
    except ConfigError:
        pass  # valid syntax; whether its values fit is for the full load to say
    return None


def _watch(schema: type[Any], files: Sequence[Named], args: argparse.Namespace) -> int:
    args.max_debounce = _max_debounce(args)
    if args.backend == "watchfiles" and not watchfiles_available():
        raise UsageError("--backend watchfiles needs: pip install 'trioconf[watchfiles]'")
    try:
        return trio.run(_watch_until_signal, schema, files, args)
    except ConfigError as exc:  # the initial load failed: the reloader never started
        print(exc, file=sys.stderr)
        return 1


async def _watch_until_signal(
    schema: type[Any], files: Sequence[Named], args: argparse.Namespace
) -> int:
    # The signal receiver is installed before the reloader starts, so a Ctrl-C or SIGTERM
    # always ends the command here instead of raising KeyboardInterrupt in a task. It is read
    # by its own task, concurrently with the initial load: a signal that lands while the
    # first snapshot loads (a missing file's grace, a large parse) stops the command at once
    # rather than when the load ends, and is not re-raised on the way out (trio re-delivers
    # unread signals when the receiver closes: SIGTERM would kill the process bare).
    stopped_by: list[int] = []
    # The command prints each rejection itself ("rejected: ..."); the logger's own warning
    # of it would print it a second time.
    quiet = _NotRejections()
    logging.getLogger("trioconf").addFilter(quiet)
    try:
        return await _watch_printing(schema, files, args, stopped_by)
    finally:
        logging.getLogger("trioconf").removeFilter(quiet)


class _NotRejections(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "trioconf_rejected", False)


async def _watch_printing(
    schema: type[Any],
    files: Sequence[Named],
    args: argparse.Namespace,
    stopped_by: list[int],
) -> int:
    failure: ConfigError | None = None
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_stop_on_signal, signals, nursery.cancel_scope, stopped_by)
            try:
                async with open_reloader(
                    schema,
                    *files,
                    **_reading(args),
                    debounce=args.debounce,
                    max_debounce=args.max_debounce,
                    backend=args.backend,
                    poll_interval=args.poll_interval,
                ) as live:
                    await _print_changes(live, args.exec_command)
            except ConfigError as exc:
                # Raised after the nursery closes, so that it arrives plain in _watch.
                failure = exc
                nursery.cancel_scope.cancel()
    if failure is not None:
        raise failure
    if not stopped_by:  # pragma: no cover
        raise AssertionError("unreachable: the printer ends only when a signal cancels it")
    return 128 + stopped_by[0]


async def _stop_on_signal(
    signals: AsyncIterator[int], scope: trio.CancelScope, stopped_by: list[int]
) -> None:
    async for signum in signals:
        stopped_by.append(signum)
        scope.cancel()
        return


async def _print_changes(live: Live[Any], command: str | None) -> None:
    # No checkpoint between reading the current snapshot and subscribing to records, so no
    # update can fall between the first line and the first record.
    records = live.records()
    _say(f"v{live.version}: {live.current!r}")
    async for record in records:
        for line in describe(record):
            _say(line)
        if command is not None and isinstance(record, Update | PastUpdate):
            await _run_command(command, record)


async def _run_command(command: str, record: Update[Any] | PastUpdate) -> None:
    """Run ``--exec``'s command for one applied change and wait for it: the changes that come
    meanwhile wait in the history (the next record is read when it is done)."""
    env = {
        **os.environ,
        "TRIOCONF_VERSION": str(record.version),
        "TRIOCONF_CHANGED": ",".join(sorted(record.changed)),
    }
    done = await trio.run_process(command, shell=True, check=False, env=env)
    if done.returncode != 0:
        _say(f"v{record.version}: exec: {command!r} exited with status {done.returncode}")


def describe(record: Update[Any] | PastUpdate | Failure | Cleared) -> list[str]:
    """The lines ``watch`` prints for one record: one per changed path, or the error."""
    if isinstance(record, Failure):
        return [f"rejected: {record.error}"]
    if isinstance(record, Cleared):
        return [f"v{record.version}: back on disk; the last error is cleared"]
    if isinstance(record, PastUpdate):  # read too late: its snapshots are no longer kept
        return [f"v{record.version}: {path}: changed" for path in sorted(record.changed)]
    cls = type(record.config)
    return [
        f"v{record.version}: {path}: {_shown(cls, path, lookup(record.previous, path))} -> "
        f"{_shown(cls, path, lookup(record.config, path))}"
        for path in sorted(record.changed)
    ]


def _shown(cls: type, path: str, value: object) -> str:
    """``value`` as ``watch`` prints it: its repr, or ``MASK`` for a secret (a rotated
    password is still reported as changed, never shown)."""
    if value is not MISSING and secret_at(cls, path):
        return repr(MASK)
    return repr(value)


class _Missing:
    """What a path resolves to where it does not exist (a list item that was added)."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


def lookup(obj: object, path: str) -> Any:
    """The value at a dotted path such as ``db.port``, ``servers.0.host`` or ``servers[0]``.

    Walks attributes of attrs/dataclass objects, keys of mappings and indexes of sequences;
    returns ``MISSING`` where the path does not exist in ``obj``.
    """
    for step in _steps(path):
        obj = _step(obj, step)
        if obj is MISSING:
            break
    return obj


def _steps(path: str) -> list[str]:
    return [step for step in path.replace("[", ".").replace("]", "").split(".") if step]


def _step(obj: object, step: str) -> Any:
    if obj is None or obj is MISSING:
        return MISSING
    if isinstance(obj, Mapping):
        if step in obj:
            return obj[step]
        return obj.get(int(step), MISSING) if step.isdigit() else MISSING
    if isinstance(obj, Sequence) and not isinstance(obj, str) and step.isdigit():
        index = int(step)
        return obj[index] if index < len(obj) else MISSING
    return getattr(obj, step, MISSING)


def _say(line: str) -> None:
    print(line, flush=True)


def _note(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --- trioconf schema: the JSON Schema of a config class, for editors ---------------------------


def _add_schema_command(commands: Any) -> None:
    sub = commands.add_parser(
        "schema",
        help="print the JSON Schema of CLASS, for editors to complete and check config files",
        description="Print the JSON Schema (draft 2020-12) of the files that configure CLASS.",
    )
    sub.add_argument(
        "target",
        metavar="MODULE:CLASS",
        help="the config class: a dotted module (importable from the current directory) or a "
        "path to a .py file, then ':' and the class name",
    )
    sub.add_argument(
        "--entry",
        metavar="FIELD",
        help="the schema of one file of a keyed folder (--key FIELD): an entry of the "
        "dict[str, X] field FIELD",
    )
    sub.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    sub.add_argument(
        "--allow-unknown", action="store_true", help="allow keys that name no field, as check's"
    )
    sub.add_argument(
        "--converter",
        metavar="MODULE:FUNC",
        help="the service's configure(converter): the types its hooks read are left open",
    )


def _print_json_schema(args: argparse.Namespace) -> int:
    try:
        cls = _import_schema(args.target)
    except UsageError as exc:
        # The import helpers speak of check's and watch's --schema; here it is the argument.
        raise UsageError(str(exc).replace("--schema", "MODULE:CLASS", 1)) from None
    try:
        schema = json_schema(
            cls,
            entry=args.entry,
            forbid_unknown=not args.allow_unknown,
            converter=_configure(args),
        )
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    text = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"-o {args.output}: {exc.strerror or exc}") from None
    return 0
