"""``trioconf.Etcd``: configuration kept in etcd v3, watched, as one source among the files.

Built on the public :class:`trioconf.Source` interface and nothing else of the pipeline.
``run`` owns the connection: it reads the keys at one revision R (a paginated range pinned to
R), says it has started, and follows a watch from R + 1. Each watch response (the events of
one etcd transaction share a revision and arrive in one response) is queued in the ``Mirror``
and reported with one ``notify(revision)``; the debouncer batches it with file changes, and
the updater's ``read`` folds the queued responses up to the newest revision reported and gives
the layer. So a published snapshot's revision only grows, and no event is applied twice.

Keeping the watch alive, all inside ``run`` (the reloader's nursery, nothing hidden):

- a cut connection, an ``error`` object on the stream, or its end: open the watch again from
  the last revision received + 1, after a jittered exponential backoff, endpoint after endpoint;
- a watch cancelled because that revision was compacted away: read everything again at a new
  revision, report it once (as an inotify overflow makes a rescan), and watch from there;
- a stream silent for ``progress_timeout`` (no event, no progress notification, which the
  watch asks etcd for): treated as cut, so a half-open connection cannot leave the config stale
  without anyone knowing; ``connected`` and ``stale_since`` say how it stands.

With ``cache=``, a last-good cache (``_cache``): after each ``read`` that gave a layer, the
``_keep`` task in ``run``'s nursery writes the keys that read folded (reads made while it writes
are coalesced into its next write), off the updater's path. If etcd does not answer within
``connect_timeout`` at start, the source starts from the cache, says so, and reads everything
again once etcd answers, as after a compaction (etcd's revision may be older or newer than the
cache's, its cluster another): the config converges on what etcd holds.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import ssl
import time
import urllib.parse
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import trio

from .._errors import ConfigError, SourceError
from .._marks import SecretStr
from .._source import Notify, Source
from .._sources import _EXTENSIONS, Format, format_of
from ._backoff import Backoff
from ._cache import CacheError, Saved, encode, load, save
from ._gateway import Gateway, Refused, Unreachable, WatchStream, client, compact_revision
from ._layout import Document, Prefix, describe
from ._mirror import Mirror
from ._wire import WireError, event, header_revision, range_end

logger = logging.getLogger("trioconf")

_INSTALL = "trioconf.Etcd needs httpx: pip install 'trioconf[etcd]'"
_FIRST_DELAY = 0.05  # the first backoff delay: a restarted member is back in well under 1 s


class _Compacted(Exception):
    def __init__(self, revision: int) -> None:
        super().__init__(f"revision {revision} was compacted")
        self.revision = revision


class _Silent(Exception):
    """The watch stream said nothing for ``progress_timeout``."""


class Etcd(Source):
    """Configuration kept in etcd v3, through its HTTP/JSON gateway, watched for changes.

    Two layouts, one of ``prefix`` or ``key``:

    ``Etcd(url, prefix="/app/")``
        Each key under the prefix is a field: ``/app/db/port`` is ``db.port``. The text of a
        value is read for its field's type as an environment variable's is (``5432`` for an
        ``int``, ``true`` for a ``bool``, JSON for a list, a mapping or a class).
    ``Etcd(url, key="/app/config.yaml")``
        One key holds a whole JSON, TOML or YAML document; the format comes from the key's
        extension, or ``format=``.

    Args:
        endpoints: the gateway's URL (``http://127.0.0.1:2379``), or a list of them: the
            members of a cluster, tried in turn when one does not answer.
        prefix: the prefix of the keys, ending in ``/``.
        key: the key holding a document.
        format: ``"json"``, ``"toml"`` or ``"yaml"`` for ``key``, if its name does not say.
        username, password: authenticate for a token, sent with every request and renewed
            when etcd says it expired. Neither is shown in a repr or a message.
        verify: ``True`` (the system's CAs), a CA bundle's path, ``False``, or an
            ``ssl.SSLContext``, as httpx takes it.
        cert: a client certificate: the path of a PEM holding both, or (certificate, key).
        connect_timeout: how long the first read may keep failing before the reloader gives
            up with a :class:`SourceError` naming the endpoints.
        request_timeout: how long one request (or opening the watch) may take.
        progress_timeout: how long the watch may stay silent before it is taken as cut and
            opened again (etcd sends a progress notification every 10 minutes by default,
            ``--experimental-watch-progress-notify-interval``; an idle watch reopened costs one
            request and misses nothing).
        max_backoff: the longest wait between two reconnection attempts.
        page_size: keys per range request.
        cache: a file for a last-good cache (None: no cache). After each change applied, the
            keys read, their revision and the id of the cluster are written there (mode 0600:
            values may be secrets), off the reloader's path. If etcd does not answer within
            ``connect_timeout`` at start, the source starts from the cache instead of failing,
            with a warning, ``connected`` False and ``stale_since`` the time the cache was
            current, and converges on etcd's keys once etcd answers. A cache made for another
            prefix or key, for other endpoints, or from another cluster (known when etcd
            answers) is not used; nor is a corrupt one (a warning says why).
    """

    def __init__(
        self,
        endpoints: str | Sequence[str],
        *,
        prefix: str | None = None,
        key: str | None = None,
        format: Format | None = None,
        username: str | None = None,
        password: str | SecretStr | None = None,
        verify: bool | str | os.PathLike[str] | ssl.SSLContext = True,
        cert: str | tuple[str, str] | None = None,
        connect_timeout: float = 10.0,
        request_timeout: float = 10.0,
        progress_timeout: float = 60.0,
        max_backoff: float = 5.0,
        page_size: int = 1000,
        cache: str | os.PathLike[str] | None = None,
    ) -> None:
        if importlib.util.find_spec("httpx") is None:  # found, not imported: that waits for run
            raise ImportError(_INSTALL)
        self.endpoints: tuple[str, ...] = _endpoints(endpoints)
        if (prefix is None) == (key is None):
            raise TypeError("Etcd takes one of prefix= (keys as fields) or key= (a document)")
        self._layout: Prefix | Document
        self._range: tuple[bytes, bytes | None]
        if prefix is not None:
            if format is not None:
                raise TypeError("format= is for key= (a document); a prefix's values are text")
            if not isinstance(prefix, str) or not prefix.endswith("/"):
                raise ValueError(
                    f"prefix must be a str ending in '/', like '/app/', not {prefix!r}"
                )
            self._layout = Prefix(prefix)
            self._range = (prefix.encode(), range_end(prefix.encode()))
        else:
            if not isinstance(key, str) or not key:
                raise ValueError(f"key must be a non-empty str, not {key!r}")
            if format is not None and format not in ("json", "toml", "yaml"):
                raise ValueError(f"format must be 'json', 'toml' or 'yaml', not {format!r}")
            fmt = format_of(key, format)
            if fmt is None:
                known = ", ".join(sorted(_EXTENSIONS))
                msg = f"cannot tell the format of key {key!r} ({known}): pass format="
                raise ValueError(msg)
            self._layout = Document(key, fmt)
            self._range = (key.encode(), None)
        if password is not None and username is None:
            raise TypeError("password= needs username=")
        if username is not None and (not isinstance(username, str) or not username):
            raise ValueError("username must be a non-empty str")
        if isinstance(password, SecretStr):
            password = password.get_secret_value()
        self._username = username
        self._password = password
        if not isinstance(verify, bool | str | os.PathLike | ssl.SSLContext):
            raise TypeError(
                f"verify must be a bool, a CA bundle's path or an SSLContext, not {verify!r}"
            )
        if not (cert is None or isinstance(cert, str) or _pair(cert)):
            raise TypeError(f"cert must be a PEM's path or (certificate, key), not {cert!r}")
        self._verify = verify
        self._cert = cert
        for what, value in [
            ("connect_timeout", connect_timeout),
            ("request_timeout", request_timeout),
            ("progress_timeout", progress_timeout),
            ("max_backoff", max_backoff),
        ]:
            if not isinstance(value, int | float) or not 0 < value < math.inf:
                raise ValueError(f"{what} must be a positive number of seconds, not {value!r}")
        if not isinstance(page_size, int) or page_size < 1:
            raise ValueError(f"page_size must be a positive int, not {page_size!r}")
        if cache is not None and not isinstance(cache, str | os.PathLike):
            raise TypeError(f"cache must be a file's path, not {cache!r}")
        if cache is not None and not os.fspath(cache):
            raise ValueError("cache must be a file's path, not ''")
        # Absolute now: a relative path means the directory the program started in.
        self.cache: str | None = None if cache is None else os.path.abspath(cache)
        self.connect_timeout: float = float(connect_timeout)
        self.request_timeout: float = float(request_timeout)
        self.progress_timeout: float = float(progress_timeout)
        self.max_backoff: float = float(max_backoff)
        self.page_size = page_size
        where = prefix if prefix is not None else key
        self.name: str = f"etcd {','.join(self.endpoints)} {where}"
        self._cls: type | None = None
        self._mirror = Mirror()
        self._connected = False
        self._stale_since: float | None = None
        self._heard = 0.0
        self._endpoint: str | None = None
        self._opened = -math.inf  # trio.current_time() when the watch was last created
        self._made_for = ("prefix", prefix) if prefix is not None else ("key", key or "")
        self._from_cache: Saved | None = None  # started from it, and etcd has not answered yet
        self._dirty = trio.Event()  # a read gave a layer: ``_keep`` writes the cache
        self._good: Saved | None = None  # the keys of the last read that gave a layer
        self._on_disk: tuple[str, int] | None = None  # (cluster, revision) the cache holds
        self._cache_failing = False

    def __repr__(self) -> str:
        layout = self._layout
        where = f"prefix={layout.prefix!r}" if isinstance(layout, Prefix) else f"key={layout.key!r}"
        user = "" if self._username is None else f", username={self._username!r}"
        return f"Etcd({list(self.endpoints)!r}, {where}{user})"

    # -- what a health check reads ---------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the watch is open: changes made in etcd now reach the config."""
        return self._connected

    @property
    def stale_since(self) -> float | None:
        """While not connected after having been, or after a start from the cache: when the
        data was last known current (a ``time.time()`` value; the cache's time); the config
        may miss changes made since. None otherwise."""
        return self._stale_since

    @property
    def revision(self) -> int:
        """The etcd revision of the data the last ``read`` gave (0 before the first)."""
        return self._mirror.revision

    @property
    def endpoint(self) -> str | None:
        """The endpoint the watch is open on (or was last)."""
        return self._endpoint

    # -- the Source interface --------------------------------------------------------------------

    def bind(self, config_class: type) -> None:
        self._cls = config_class

    async def run(
        self, notify: Notify, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        verify, cert = self._verify, self._cert
        if isinstance(verify, str | os.PathLike) or cert is not None:
            # Reading certificates is file I/O: off the event loop.
            verify = await trio.to_thread.run_sync(_context, verify, cert)
        async with client(verify) as http:
            gateway = Gateway(
                http,
                self.endpoints,
                username=self._username,
                password=self._password,
                request_timeout=self.request_timeout,
            )
            backoff = Backoff(_FIRST_DELAY, self.max_backoff)
            await self._first_read(gateway, backoff)
            async with trio.open_nursery() as nursery:
                if self.cache is not None:
                    nursery.start_soon(self._keep, self.cache)
                task_status.started()
                await self._follow(gateway, backoff, notify)

    async def read(self, changes: frozenset[Hashable] | None) -> Mapping[str, Any]:
        if self._cls is None:
            raise RuntimeError("Etcd is read by a reloader, which tells it the config class")
        # Tokens are the revisions ``run`` reported; fold what they name, in order.
        upto = (
            None if changes is None else max((t for t in changes if isinstance(t, int)), default=0)
        )
        self._mirror.fold(upto)
        if isinstance(self._layout, Prefix):
            layer = self._layout.build(self._cls, self._mirror.keys)
        else:
            layer = await self._layout.build(self._mirror.keys, self._mirror.revision)
        if self.cache is not None:
            # A layer: these keys are good to cache. A copy (the next read changes ``keys`` in
            # place), as cheap as the build that went through them all; ``_keep`` writes it,
            # not this task, the updater's: a snapshot is not held up by a disk write.
            mirror = self._mirror
            self._good = Saved(
                self._made_for,
                self.endpoints,
                mirror.cluster,
                mirror.revision,
                time.time() if self._connected else (self._stale_since or time.time()),
                tuple(mirror.keys.values()),
            )
            self._dirty.set()
        return layer

    def origin(self, path: tuple[str, ...]) -> str:
        """The key and its revision (for a document, the line too); ``stale since`` while the
        watch is down."""
        if isinstance(self._layout, Prefix):
            entry = self._layout.origin(path)
            where = self.name if entry is None else describe(entry)
        else:
            where = self._layout.origin(path) or self.name
        if self._stale_since is not None:
            where += f", stale since {_clock(self._stale_since)}"
        return where

    # -- run's parts -----------------------------------------------------------------------------

    async def _first_read(self, gateway: Gateway, backoff: Backoff) -> None:
        """Everything at one revision, retried until ``connect_timeout``: then the reloader
        fails to start with a ``SourceError`` naming the endpoints and what each said, unless
        there is a cache to start from."""
        last = "no attempt finished"
        with trio.move_on_after(self.connect_timeout):
            while True:
                try:
                    revision, cluster, entries = await gateway.range(*self._range, self.page_size)
                except Unreachable as exc:
                    last = str(exc)
                except Refused as exc:
                    raise SourceError(self.name, str(exc)) from None
                else:
                    self._mirror.replace(revision, entries, cluster)
                    self._endpoint = gateway.endpoint
                    self._heard = time.time()
                    self._connected = True  # the watch opens next; if it cannot, it says so
                    return
                await trio.sleep(backoff.next())
        reason = f"etcd did not answer within {self.connect_timeout} s (connect_timeout): {last}"
        if self.cache is not None:
            unused = await self._start_from_cache(self.cache, reason)
            if unused is None:
                return
            reason += f"; {unused}"
        raise SourceError(self.name, reason)

    async def _start_from_cache(self, path: str, reason: str) -> str | None:
        """Serve the cache's keys until etcd answers; None if it can, else why not."""
        try:
            saved = await load(path, self.endpoints, self._made_for)
        except CacheError as exc:
            logger.warning("%s: the cache %s is not used: %s", self.name, path, exc)
            return f"the cache {path} is not used: {exc}"
        if saved is None:
            return f"no cache at {path} yet"
        self._mirror.replace(saved.revision, saved.entries, saved.cluster)
        self._from_cache = saved
        self._on_disk = (saved.cluster, saved.revision)  # nothing new to write back
        self._connected = False
        self._stale_since = self._heard = saved.current_at
        logger.warning(
            "%s: %s; starting from the cache %s (revision %d, current at %s): the config "
            "may be stale until etcd answers",
            self.name,
            reason,
            path,
            saved.revision,
            _clock(saved.current_at),
        )
        return None

    async def _follow(self, gateway: Gateway, backoff: Backoff, notify: Notify) -> None:
        """Watch until cancelled, reconnecting and re-reading as the stream requires."""
        if self._from_cache is not None:
            # Nothing to resume from: etcd's revision may be below the cache's (restored from
            # a backup), its cluster another. Everything is read again, once etcd answers.
            await self._reread(gateway, backoff, notify)
        while True:
            try:
                await self._watch(gateway, notify)
            except _Silent:
                # Reopened at once: the stream may be half-open while etcd is fine.
                logger.info("%s: the watch was silent too long; reopening it", self.name)
            except _Compacted as exc:
                logger.warning(
                    "%s: %s while the watch was down; reading everything again",
                    self.name,
                    exc,
                )
                await self._reread(gateway, backoff, notify)
            except (Unreachable, Refused) as exc:
                self._lost(str(exc))
                if trio.current_time() - self._opened > self.max_backoff:
                    # The watch had served a while: this is a new outage, not the same one
                    # (a watch etcd takes and then cancels at once keeps backing off).
                    backoff.reset()
                self._opened = math.inf  # once per outage: until a watch is created again
                await trio.sleep(backoff.next())

    async def _watch(self, gateway: Gateway, notify: Notify) -> None:
        start = self._mirror.received + 1
        async with gateway.watch(*self._range, start) as stream:
            while True:
                with trio.move_on_after(self.progress_timeout) as silence:
                    result = await stream.next()
                if silence.cancelled_caught:
                    raise _Silent
                self._heard = time.time()
                revision = self._take(result, stream)
                if result.get("created"):
                    self._up(stream.endpoint, start)
                    self._opened = trio.current_time()
                if revision is not None:
                    await notify(revision)

    def _take(self, result: Mapping[str, Any], stream: WatchStream) -> int | None:
        """A watch result folded into the mirror's queue: the revision to report, if any."""
        try:
            if result.get("canceled"):
                compacted = compact_revision(result)
                if compacted:
                    raise _Compacted(compacted)
                raise stream.cancelled(str(result.get("cancel_reason") or "no reason given"))
            events = result.get("events")
            if events:
                return self._mirror.add(event(e) for e in events)
            if not result.get("created"):
                self._mirror.progress(header_revision(result))
        except WireError as exc:
            raise Refused(f"{stream.endpoint}: a watch result etcd would not send: {exc}") from None
        return None

    async def _reread(self, gateway: Gateway, backoff: Backoff, notify: Notify) -> None:
        refused = ""
        while True:
            try:
                revision, cluster, entries = await gateway.range(*self._range, self.page_size)
            except (Unreachable, Refused) as exc:
                if (
                    isinstance(exc, Refused)
                    and self._from_cache is not None
                    and refused != str(exc)
                ):
                    # Still on the cache, and etcd answers with an error that retrying may not
                    # cure (credentials changed meanwhile): an operator must hear of it.
                    refused = str(exc)
                    logger.warning("%s: still on the cache, etcd refused: %s", self.name, exc)
                self._lost(str(exc))
                await trio.sleep(backoff.next())
            else:
                if self._from_cache is not None:
                    self._answered(self._from_cache, gateway.endpoint, cluster, revision)
                self._mirror.replace(revision, entries, cluster)
                await notify(revision)
                return

    def _answered(self, saved: Saved, endpoint: str, cluster: str, revision: int) -> None:
        """etcd answered after a start from the cache: its keys replace the cache's."""
        self._from_cache = None
        self._endpoint = endpoint
        self._stale_since = self._heard = time.time()  # current now; connected once watching
        if cluster != saved.cluster:
            logger.warning(
                "%s: etcd answered on %s, and it is another cluster than the cache's (%s, "
                "not %s): the cache is discarded, etcd's keys at revision %d replace it",
                self.name,
                endpoint,
                cluster,
                saved.cluster,
                revision,
            )
        else:
            logger.info(  # as a watch back after a drop is: the warning was at start
                "%s: etcd answered on %s: its keys at revision %d replace the cache's "
                "(revision %d)",
                self.name,
                endpoint,
                revision,
                saved.revision,
            )

    async def _keep(self, path: str) -> None:
        """The cache's writer, a task of ``run``: after each read that gave a layer, writes
        the keys it read. Reads made meanwhile set ``_dirty`` again: one write follows them,
        of the last good keys (a read that gave no layer leaves ``_good`` as it was)."""
        while True:
            await self._dirty.wait()
            self._dirty = trio.Event()
            saved = self._good
            if saved is None or (saved.cluster, saved.revision) == self._on_disk:
                continue  # the file has these keys already (read from it, or written)
            # Encoding thousands of keys takes a while: off the event loop. Abandoned if
            # cancelled: it has no effect but its result, and closing must not wait for it.
            data = await trio.to_thread.run_sync(encode, saved, abandon_on_cancel=True)
            try:
                await save(path, data)
            except (OSError, ConfigError) as exc:
                if not self._cache_failing:  # once per run of failures, not per change
                    logger.warning("%s: cannot write the cache %s: %s", self.name, path, exc)
                self._cache_failing = True
            else:
                if self._cache_failing:
                    logger.info("%s: the cache %s is written again", self.name, path)
                self._cache_failing = False
                self._on_disk = (saved.cluster, saved.revision)

    def _up(self, endpoint: str, start: int) -> None:
        if not self._connected and self._stale_since is not None:
            logger.info("%s: watching again on %s from revision %d", self.name, endpoint, start)
        self._connected = True
        self._stale_since = None
        self._endpoint = endpoint

    def _lost(self, reason: str) -> None:
        if self._connected or self._stale_since is None:
            logger.warning("%s: the watch is down (%s); reconnecting", self.name, reason)
            self._stale_since = self._heard
        self._connected = False


def _endpoints(endpoints: str | Sequence[str]) -> tuple[str, ...]:
    given = [endpoints] if isinstance(endpoints, str) else list(endpoints)
    if not given:
        raise ValueError("Etcd needs at least one endpoint URL")
    found = []
    for url in given:
        if not isinstance(url, str):
            raise TypeError(f"an endpoint is a URL string, not {url!r}")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"an endpoint is an http:// or https:// URL with a host, not {url!r}")
        if parts.username is not None or parts.password is not None:
            # A URL is shown in names and messages; credentials in it would be too.
            raise ValueError("pass credentials as username= and password=, not in the URL")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(
                f"an endpoint URL has no path or query (the gateway's root), not {url!r}"
            )
        found.append(f"{parts.scheme}://{parts.netloc}")
    return tuple(found)


def _pair(cert: object) -> bool:
    return isinstance(cert, tuple) and len(cert) == 2 and all(isinstance(c, str) for c in cert)


def _context(
    verify: bool | str | os.PathLike[str] | ssl.SSLContext, cert: str | tuple[str, str] | None
) -> ssl.SSLContext:
    """httpx's own way of reading ``verify``/``cert``, done here: httpx 0.28 deprecates
    passing paths, and a context is what it takes everywhere."""
    if isinstance(verify, ssl.SSLContext):
        context = verify
    elif verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif verify is True:
        context = ssl.create_default_context()
    else:
        context = ssl.create_default_context(cafile=os.fspath(verify))
    if cert is not None:
        certfile, keyfile = (cert, None) if isinstance(cert, str) else cert
        context.load_cert_chain(certfile, keyfile)
    return context


def _clock(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
