"""A candidate snapshot: a config built from the sources, not yet checked or published.

The updater's second step builds one (inline, or in a thread for large documents), the third
checks it with the user's ``validate``, the fourth publishes it. Building only reads the
sources' state; what a build needs changed first (a keyed Directory's bookkeeping) is done in
the updater's task before it (``_keyed.settle``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

import attrs

T = TypeVar("T")

Changed = frozenset[str] | Callable[[], frozenset[str]]
"""The dotted paths that differ from the current snapshot, or how to list them on demand
(listing every path of a large change costs real time, paid only if someone asks)."""


@attrs.frozen
class Candidate(Generic[T]):
    config: T
    origins: Mapping[str, str]
    changed: Changed
