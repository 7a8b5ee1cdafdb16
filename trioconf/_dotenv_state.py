"""A ``DotEnv`` source: a watched file whose lines are read as environment variables.

Read as a ``File`` is (``_file_state``): on each change of its path, inline when small, and
re-parsed only when its bytes changed; a large one is read and parsed in a thread, and under
a cooperating writer's shared lock when a ``FileGuard`` holds one (no worker process: turning
bindings into the layer needs the config class, which need not pickle). A file found gone, or
emptied where it set variables, waits for ``missing_grace`` as a ``File`` does, so that a
rename save or an in-place writer's truncate does not publish a config without it.

With ``expand``, values also depend on the environment: a ``reload()`` converts them again
even when the bytes did not change.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import attrs
import trio

from ._anchor import apply, from_env, plan
from ._dotenv import DotEnvLayer, dotenv_layer, expanded, parse_dotenv
from ._errors import ConfigError, MissingSourceError
from ._file_state import absent_for
from ._read import Content, read_consistent, read_unless_larger
from ._settings import Options
from ._sidecar import has_sidecar, shared_lock_if_present, shared_lock_if_present_sync
from ._source_state import Key, OneLayer
from ._sources import DotEnv

# Like a TOML file's inline limit: python-dotenv's regexes read about as fast as tomli.
INLINE_LIMIT = 64 * 1024


class DotEnvState(OneLayer[DotEnv]):
    """One ``DotEnv`` source (``_source_state.SourceState``)."""

    def __init__(
        self, source: DotEnv, cls: type, options: Options, environ: Mapping[str, str] | None
    ) -> None:
        super().__init__()
        self.source = source
        self.cls = cls
        self.options = options
        self.environ = environ  # None: os.environ, as it is at each read (``expand``)
        self.paths = plan(cls)  # where ``~`` in a Path value is expanded, as for Env
        self.digest: bytes | None = None  # of the bytes last read; None: they could not be
        self.bound = False  # the last read found NAME=value lines
        self.read = False
        self._waiting = False

    @property
    def waiting(self) -> frozenset[Path]:
        return frozenset((self.source.path,)) if self._waiting else frozenset()

    def grace_over(self) -> None:
        self._waiting = False

    async def refresh(self, keys: frozenset[Key] | None) -> bool:
        """Read the file again. Found gone or emptied, it waits as a ``FileState`` does, by
        the same rules (see ``FileState.refresh``)."""
        before = self.given()
        optional_there = self.source.optional and self.digest is not None
        reported = isinstance(self._error, MissingSourceError)
        was_empty = not self.read or self._empty()
        await self._refresh(again=keys is None and self.source.expand)
        self.read = True
        gone = self.digest is None and (
            isinstance(self._error, MissingSourceError) or self._error is None
        )
        if self._waiting:
            if not (gone or self._empty()):
                self._waiting = False  # back, whole: its writer closed it
        elif (not was_empty and self._empty()) or (
            not reported
            and (isinstance(self._error, MissingSourceError) or (optional_there and gone))
            and not absent_for(self.source.path, self.options.missing_grace)
        ):
            self._waiting = True
        return self.given() != before

    def _empty(self) -> bool:
        """The file was read and binds no name: empty, or only comments."""
        return self.digest is not None and not self.bound and self._error is None

    async def _refresh(self, *, again: bool) -> None:
        options, path = self.options, self.source.path
        large = False
        try:
            content = read_unless_larger(path, INLINE_LIMIT, options.max_size, real=True)
            if content is None or content.real is None or has_sidecar(content.real):
                # Large, or a writer's sidecar lock beside it: read again under its lock (if
                # any), in a thread, as ``_job.read_guarded`` does for a File.
                large = content is None or len(content.raw) > INLINE_LIMIT
                async with shared_lock_if_present(path, options.lock_timeout):
                    content = await trio.to_thread.run_sync(read_consistent, path, options.max_size)
                large = large or len(content.raw) > INLINE_LIMIT
        except ConfigError as exc:
            self._settle_error(exc)
        else:
            if content.digest != self.digest or again:
                if large:
                    built = await trio.to_thread.run_sync(self._build, content)
                else:
                    built = self._build(content)
                self._settle(content, built)
        # Parsed inline: a cancellation that arrived meanwhile stops the attempt here, before
        # the updater applies anything (as ``FileState._refresh``).
        await trio.lowlevel.checkpoint_if_cancelled()

    def refresh_sync(self) -> None:
        """Read and convert in this thread (``trioconf.load``), under a writer's shared lock
        when one stands beside the file."""
        try:
            with shared_lock_if_present_sync(self.source.path, self.options.lock_timeout):
                content = read_consistent(self.source.path, self.options.max_size)
        except ConfigError as exc:
            self._settle_error(exc)
        else:
            self._settle(content, self._build(content))
        self.read = True

    def _build(self, content: Content) -> tuple[DotEnvLayer | ConfigError, bool]:
        """The layer the bytes give (or why they give none), and whether they bind any name.
        Touches nothing of this object's: it may run in a thread."""
        source = self.source
        try:
            bindings = parse_dotenv(content.raw, source.name)
            if source.expand:
                environ = os.environ if self.environ is None else self.environ
                bindings = expanded(bindings, environ)
            strict = self.options.strict_env
            layer = dotenv_layer(self.cls, source.prefix, bindings, source.name, strict=strict)
        except ConfigError as exc:
            return exc, True
        if self.paths is not None:
            # ``~`` expanded; a relative path stays relative to the working directory.
            layer = attrs.evolve(layer, data=apply(layer.data, self.paths, from_env))
        return layer, bool(bindings.values)

    def _settle(self, content: Content, built: tuple[DotEnvLayer | ConfigError, bool]) -> None:
        layer, self.bound = built
        self.digest = content.digest
        if isinstance(layer, ConfigError):
            self.layer, self._error = None, layer
        else:
            self.layer, self._error = layer, None

    def _settle_error(self, exc: ConfigError) -> None:
        self.digest, self.layer, self.bound = None, None, False
        # A missing optional file is no error: its layer simply drops out.
        optional_gone = isinstance(exc, MissingSourceError) and self.source.optional
        self._error = None if optional_gone else exc
