"""An ``Env`` source: the layer its variables give, read again on every rescan.

The environment of a running process changes only by its own doing, so nothing watches it: a
``reload()`` or a rescan reads it again (``keys`` None), a change to a watched file does not,
except to a file that an ``APP_DB__PASSWORD_FILE`` variable names (``files``): a secret
rotated on disk is read again like a configured file's change. Those files are the ones the
variables name when the reloader starts (a variable set later is read on ``reload()``, its
file not watched).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import attrs

from ._anchor import apply, from_env, plan
from ._env import env_layer, secret_files
from ._errors import ConfigError
from ._settings import Options
from ._source_state import Key, OneLayer
from ._sources import Env, absolute


class EnvState(OneLayer[Env]):
    """One ``Env`` source (``_source_state.SourceState``)."""

    def __init__(
        self, source: Env, cls: type, options: Options, environ: Mapping[str, str] | None
    ) -> None:
        super().__init__()
        self.source = source
        self.cls = cls
        self.strict = options.strict_env
        self.environ = environ  # None: os.environ, as it is at each read
        named = secret_files(cls, source.prefix, os.environ if environ is None else environ)
        self.files = frozenset(absolute(name) for name in named)
        self.paths = plan(cls)  # where ``~`` in a Path value is expanded (None: nowhere)
        # ``profile_var`` is trioconf's own, not a field (``_profiles.check_var``): an
        # ``APP_PROFILE`` under the prefix ``APP_`` is neither warned about nor strict's error.
        self.skip = options.profile_var

    async def refresh(self, keys: frozenset[Key] | None) -> bool:
        if keys is not None and keys.isdisjoint(self.files):
            return False  # nothing watched names the environment, or its secret files
        before = self.given()
        self.refresh_sync()
        return self.given() != before

    def refresh_sync(self) -> None:
        environ = os.environ if self.environ is None else self.environ
        if self.skip is not None and self.skip in environ:
            environ = {name: value for name, value in environ.items() if name != self.skip}
        try:
            layer = env_layer(self.cls, self.source.prefix, environ, strict=self.strict)
        except ConfigError as exc:
            self.layer, self._error = None, exc
        else:
            if self.paths is not None:
                # ``~`` expanded; a relative path stays relative to the working directory.
                layer = attrs.evolve(layer, data=apply(layer.data, self.paths, from_env))
            self.layer, self._error = layer, None
