"""What the loader asks of every source, whatever it reads: the one internal interface.

Each source the user passes becomes one object behind this interface: a file
(``_file_state.FileState``), the environment (``_env_state.EnvState``), a layered or a keyed
folder (``_folder_layered``, ``_folder_keyed``) or a source the user wrote
(``_source.UserSourceState``, around a public :class:`trioconf.Source`). The loader is the
ordered list of them plus the build: it routes each change key to the source it belongs to,
asks the named sources to refresh, and merges what they give, lowest precedence first.

Only the updater task calls these methods; a build run in a thread reads ``layers`` and
``error`` only.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import attrs

from ._errors import ConfigError
from ._layer import Layer


@attrs.frozen
class Notified:
    """The change key of a source that reports its own changes (a user-written source): the
    debouncer batches it like a path; the tokens it stands for wait in that source."""

    source: int  # the source's place among the loader's sources


Key = Path | Notified
"""What a batch names: a watched path, or a source that reported a change itself."""

Token = Hashable


class SourceState(Protocol):
    """One source, as the loader sees it."""

    @property
    def name(self) -> str:
        """For errors and origins: a path, ``env APP_*``, a user source's own name."""
        ...

    @property
    def error(self) -> ConfigError | None:
        """Why this source cannot be used now (the build fails with it), or None."""
        ...

    def layers(self) -> Sequence[Layer]:
        """What it gives now, lowest precedence first (a keyed folder gives its entries to
        the build instead, already structured: ``_keyed``)."""
        ...

    async def refresh(self, keys: frozenset[Key] | None) -> bool:
        """Read again what ``keys`` name (None: everything); True when what it gives, or its
        error, changed. A cancellation leaves it as it was or as fully read: never half."""
        ...

    def refresh_sync(self) -> None:
        """Read everything, in this thread, with no event loop (``trioconf.load``)."""
        ...

    @property
    def waiting(self) -> frozenset[Path]:
        """Files its latest refresh found gone or emptied, maybe mid-save: the updater waits
        for their next report, up to ``missing_grace``, before it builds (``_updater``)."""
        ...

    def grace_over(self) -> None:
        """The files still waiting stay as they were read: missing, absent or empty."""
        ...


class _Named(Protocol):
    @property
    def name(self) -> str: ...


S = TypeVar("S", bound=_Named)


class OneLayer(Generic[S]):
    """The part of ``SourceState`` that a source giving at most one layer shares (a file,
    the environment, a user's source): that layer or its error, and no grace of its own."""

    source: S

    def __init__(self) -> None:
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

    def given(self) -> tuple[object, ...]:
        """What it gives, to compare before and after a read: the data, and the error as it
        reads (a new exception object saying the same is no change)."""
        data = None if self.layer is None else self.layer.data
        error = self._error
        return data, None if error is None else (type(error), str(error))
