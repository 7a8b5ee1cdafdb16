"""The etcd source's last-good cache: the keys it last read as a layer, kept on disk, to start
from when etcd does not answer at start.

One JSON document, mode 0600 (values may be secrets)::

    {"trioconf_etcd_cache": 1, "prefix": "/app/",        (or "key": "/app/config.yaml")
     "endpoints": ["http://10.0.0.1:2379"], "cluster_id": "14841639068965178418",
     "revision": 17, "current_at": 1764775200.25,
     "kvs": [{"key": "<base64>", "value": "<base64>", "mod_revision": "17"}, ...]}

The kvs are kept as the gateway sends them and read back through ``_wire``, so a cache is
checked as an answer from etcd is. ``current_at`` (``time.time()``) is when the source last knew
the keys were what etcd held: ``stale_since`` while the source runs on the cache.

A cache is used only for what it was made for: the same prefix (or key), and etcd at one of the
same endpoints. A member added or replaced keeps the cache; endpoints all different are another
cluster, most likely, whose config is not this one's. Whether it is the same cluster is known
only when etcd answers: then the source compares the cluster ids.

Written with ``write_atomic``: a reader never sees half a cache, and a crash leaves the old one.
The file is created 0600 (or made so) before each write, and ``write_atomic`` gives the new
content the mode of the file it replaces, its temp file included.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import trio

from .._guard import write_atomic
from ._wire import KeyValue, WireError, b64, key_value

VERSION = 1
_MARK = "trioconf_etcd_cache"  # names the format, and its version


class CacheError(Exception):
    """A cache that cannot be used; the message says why."""


@attrs.frozen
class Saved:
    """What a cache holds."""

    made_for: tuple[str, str]  # ("prefix", "/app/") or ("key", "/app/config.yaml")
    endpoints: tuple[str, ...]
    cluster: str
    revision: int
    current_at: float
    entries: tuple[KeyValue, ...]


def encode(saved: Saved) -> bytes:
    kind, where = saved.made_for
    document = {
        _MARK: VERSION,
        kind: where,
        "endpoints": list(saved.endpoints),
        "cluster_id": saved.cluster,
        "revision": saved.revision,
        "current_at": saved.current_at,
        "kvs": [
            {"key": b64(e.key), "value": b64(e.value or b""), "mod_revision": str(e.mod_revision)}
            for e in saved.entries
        ],
    }
    return json.dumps(document, separators=(",", ":")).encode()


def decode(raw: bytes) -> Saved:
    """The cache's content, checked; ``CacheError`` says what is wrong with it."""
    if not raw:
        raise CacheError("the file is empty")
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise CacheError(f"it is not JSON ({exc})") from None
    if not isinstance(document, Mapping) or _MARK not in document:
        raise CacheError("it is not a trioconf etcd cache")
    if document[_MARK] != VERSION:
        raise CacheError(f"it is format {document[_MARK]!r}, this trioconf reads {VERSION}")
    kinds = [k for k in ("prefix", "key") if isinstance(document.get(k), str)]
    endpoints: Any = document.get("endpoints")
    cluster = document.get("cluster_id")
    revision = document.get("revision")
    current_at = document.get("current_at")
    kvs = document.get("kvs")
    if (
        len(kinds) != 1
        or not _strings(endpoints)
        or not isinstance(cluster, str)
        or not cluster
        or not isinstance(revision, int)
        or isinstance(revision, bool)
        or revision < 0
        or not isinstance(current_at, int | float)
        or not math.isfinite(current_at)
        or not isinstance(kvs, list)
    ):
        raise CacheError("a field is missing or of the wrong type")
    try:
        entries = tuple(key_value(kv) for kv in kvs)
    except WireError as exc:
        raise CacheError(f"a key in it is malformed: {exc}") from None
    return Saved(
        (kinds[0], document[kinds[0]]),
        tuple(endpoints),
        cluster,
        revision,
        float(current_at),
        entries,
    )


async def load(path: str, endpoints: Sequence[str], made_for: tuple[str, str]) -> Saved | None:
    """The cache at ``path`` if it is one for ``endpoints`` and ``made_for``; None if there
    is none; ``CacheError`` if it cannot be used."""
    try:
        # Abandoned if cancelled: a read has no effect, and closing must not wait for a disk.
        raw = await trio.to_thread.run_sync(_read, path, abandon_on_cancel=True)
    except OSError as exc:
        raise CacheError(f"it cannot be read ({exc})") from None
    if raw is None:
        return None
    saved = decode(raw)
    if saved.made_for != made_for:
        made, wanted = " ".join(saved.made_for), " ".join(made_for)
        raise CacheError(f"it was made for the {made}, not the {wanted}")
    if not set(saved.endpoints) & set(endpoints):
        raise CacheError(f"it was made for the etcd at {', '.join(saved.endpoints)}")
    return saved


async def save(path: str, data: bytes) -> None:
    await trio.to_thread.run_sync(_private, path)
    await write_atomic(path, data)


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _private(path: str) -> None:
    """``path`` exists with mode 0600, before ``write_atomic`` replaces it keeping its mode:
    a new file would get the umask's mode, readable by others."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        if stat.S_IMODE(os.stat(path).st_mode) != 0o600:
            os.chmod(path, 0o600)
    else:
        os.close(fd)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)
