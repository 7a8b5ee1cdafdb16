"""An ``Env`` source: the layer its variables give, read again on every rescan.

The environment of a running process changes only by its own doing, so nothing watches it: a
``reload()`` or a rescan reads it again (``keys`` None), a change to a watched file does not.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ._env import env_layer
from ._errors import ConfigError
from ._layer import Layer
from ._settings import Options
from ._source_state import Key
from ._sources import Env


class EnvState:
    """One ``Env`` source (``_source_state.SourceState``)."""

    def __init__(
        self, source: Env, cls: type, options: Options, environ: Mapping[str, str] | None
    ) -> None:
        self.source = source
        self.cls = cls
        self.strict = options.strict_env
        self.environ = environ  # None: os.environ, as it is at each read
        self.layer: Layer | None = None
        self._error: ConfigError | None = None

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def error(self) -> ConfigError | None:
        return self._error

    def layers(self) -> Sequence[Layer]:
        return () if self.layer is None else (self.layer,)

    @property
    def waiting(self) -> frozenset[Path]:
        return frozenset()

    def grace_over(self) -> None:
        pass

    async def refresh(self, keys: frozenset[Key] | None) -> bool:
        if keys is not None:
            return False  # nothing watched names the environment
        before = self.layer, self._error
        self.refresh_sync()
        after = self.layer, self._error
        if before[0] is not None and after[0] is not None:
            return before[0].data != after[0].data
        return _said(before[1]) != _said(after[1]) or (before[0] is None) != (after[0] is None)

    def refresh_sync(self) -> None:
        environ = os.environ if self.environ is None else self.environ
        try:
            self.layer = env_layer(self.cls, self.source.prefix, environ, strict=self.strict)
        except ConfigError as exc:
            self.layer, self._error = None, exc
        else:
            self._error = None


def _said(error: ConfigError | None) -> tuple[object, ...] | None:
    return None if error is None else (type(error), str(error))
