"""A client of etcd's v3 HTTP/JSON gateway: ranges, watches, auth, failover; httpx under Trio.

Only what the etcd source needs: ``/v3/kv/range`` (paginated, pinned to one revision),
``/v3/watch`` (a stream of JSON objects, one per line; cancelled by closing its connection) and
``/v3/auth/authenticate``. No gRPC and no asyncio-bound client: httpx runs on Trio's own
sockets, so a cancel scope cuts any request at once and httpx closes its connection.

Failures come out as three kinds, because the source answers each differently:

- ``Unreachable``: no endpoint answered (refused, reset, a stream cut, no answer within
  ``request_timeout``, or etcd's ``Unavailable``): try again later, with backoff;
- ``Refused``: an endpoint answered with an error that another try will not change (bad
  credentials, permission denied, a malformed answer): at start, the source fails at once;
- a watch cancelled because its start revision was compacted: ``Compacted`` (``_watch``).

Secrets: the password and the token live in this object only; neither is in a repr, a log
line or an exception message (etcd's own messages do not quote them).
"""

from __future__ import annotations

import contextlib
import json
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import trio

from ._wire import KeyValue, WireError, b64, header_cluster, header_revision, key_value, number

if TYPE_CHECKING:
    import httpx

# gRPC status codes etcd's errors carry (``code`` in the gateway's error object).
_UNAVAILABLE = 14
_UNAUTHENTICATED = 16
# A token that etcd no longer knows (expired, or issued by another member: simple tokens are
# local to the member that issued them) and the answers that say so.
_TOKEN_GONE = ("invalid auth token", "user name is empty", "auth token is missing")


class Unreachable(Exception):
    """No endpoint gave an answer; the message names each endpoint and what happened."""


class Refused(Exception):
    """An endpoint answered with an error that trying again will not cure."""


class Gateway:
    """One ``httpx.AsyncClient`` for a list of endpoints, the current one first."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        endpoints: Sequence[str],
        *,
        username: str | None,
        password: str | None,
        request_timeout: float,
    ) -> None:
        self._client = client
        self._endpoints = tuple(endpoints)
        self._current = 0
        self._username = username
        self._password = password
        self._token: tuple[str, str] | None = None  # (endpoint, token): tokens are per member
        self._request_timeout = request_timeout

    def __repr__(self) -> str:
        return f"<Gateway {', '.join(self._endpoints)}>"

    @property
    def endpoint(self) -> str:
        """The endpoint used last (or to be tried first)."""
        return self._endpoints[self._current]

    def _order(self) -> list[int]:
        n = len(self._endpoints)
        return [(self._current + i) % n for i in range(n)]

    async def call(self, path: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """POST ``body`` to ``path`` on the current endpoint, failing over to the next ones."""
        failures: list[str] = []
        for index in self._order():
            endpoint = self._endpoints[index]
            try:
                answer = await self._call_at(endpoint, path, body)
            except Unreachable as exc:
                failures.append(f"{endpoint}: {exc}")
                continue
            self._current = index
            return answer
        raise Unreachable("; ".join(failures))

    async def _call_at(
        self, endpoint: str, path: str, body: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        for attempt in range(2):
            headers = await self._headers(endpoint)
            status, answer = await self._post(endpoint, path, body, headers)
            if status == 200:
                return answer
            if attempt == 0 and self._token_gone(answer):
                self._token = None  # expired, or another member's: authenticate again
                continue
            raise self._error(endpoint, answer)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _post(
        self, endpoint: str, path: str, body: Mapping[str, Any], headers: Mapping[str, str]
    ) -> tuple[int, Mapping[str, Any]]:
        import httpx

        # A cancel scope bounds the whole exchange (connect, send, answer): httpx's own
        # timeouts are off (``_client``), so one mechanism cuts every request.
        with trio.move_on_after(self._request_timeout) as scope:
            try:
                response = await self._client.post(endpoint + path, json=body, headers=headers)
                answer = response.json()
            except httpx.TransportError as exc:
                raise Unreachable(_said(exc)) from None
            except ValueError:
                raise Unreachable("the answer is not JSON: is this etcd's gateway?") from None
        if scope.cancelled_caught:
            raise Unreachable(f"no answer within {self._request_timeout} s (request_timeout)")
        if not isinstance(answer, Mapping):
            raise Refused(f"{endpoint}: the answer is not a JSON object")
        return response.status_code, answer

    async def _headers(self, endpoint: str) -> dict[str, str]:
        if self._username is None:
            return {}
        if self._token is None or self._token[0] != endpoint:
            body = {"name": self._username, "password": self._password or ""}
            status, answer = await self._post(endpoint, "/v3/auth/authenticate", body, {})
            token = answer.get("token")
            if status != 200 or not isinstance(token, str):
                raise self._error(endpoint, answer)
            self._token = (endpoint, token)
        return {"Authorization": self._token[1]}

    def _token_gone(self, answer: Mapping[str, Any]) -> bool:
        if self._username is None:
            return False
        message = str(answer.get("message", answer.get("error", "")))
        return answer.get("code") == _UNAUTHENTICATED or any(m in message for m in _TOKEN_GONE)

    def _error(self, endpoint: str, answer: Mapping[str, Any]) -> Exception:
        message = answer.get("message", answer.get("error", "an error without a message"))
        if answer.get("code") == _UNAVAILABLE:
            return Unreachable(f"{endpoint}: {message}")
        return Refused(f"{endpoint}: {message}")

    async def range(
        self, key: bytes, end: bytes | None, page_size: int
    ) -> tuple[int, str, list[KeyValue]]:
        """Every key in ``[key, end)`` (just ``key`` if ``end`` is None), the revision they
        were read at and the id of the cluster that answered: the first page says the revision,
        the next ones are pinned to it, so the pages add up to the store as it was at one
        moment."""
        body: dict[str, Any] = {"key": b64(key), "limit": page_size}
        if end is not None:
            body["range_end"] = b64(end)
        revision = 0
        cluster = ""
        found: list[KeyValue] = []
        while True:
            answer = await self.call("/v3/kv/range", body)
            try:
                if not revision:
                    revision = header_revision(answer)
                    cluster = header_cluster(answer)
                    body["revision"] = str(revision)
                kvs = [key_value(kv) for kv in answer.get("kvs", ())]
            except WireError as exc:
                raise Refused(
                    f"{self.endpoint}: a range answer etcd would not send: {exc}"
                ) from None
            found.extend(kvs)
            if not answer.get("more") or not kvs:
                return revision, cluster, found
            # The next page starts right after the last key of this one.
            body["key"] = b64(kvs[-1].key + b"\0")

    @contextlib.asynccontextmanager
    async def watch(
        self, key: bytes, end: bytes | None, start_revision: int
    ) -> AsyncIterator[WatchStream]:
        """A watch of ``[key, end)`` from ``start_revision``, with progress notifications,
        open on the first endpoint that takes it; closing it closes its connection, which is
        how the gateway cancels a watch."""
        import httpx

        create: dict[str, Any] = {
            "key": b64(key),
            "start_revision": str(start_revision),
            "progress_notify": True,
        }
        if end is not None:
            create["range_end"] = b64(end)
        failures: list[str] = []
        for index in self._order():
            endpoint = self._endpoints[index]
            async with contextlib.AsyncExitStack() as stack:
                with trio.move_on_after(self._request_timeout) as scope:
                    try:
                        headers = await self._headers(endpoint)
                        response = await stack.enter_async_context(
                            self._client.stream(
                                "POST",
                                endpoint + "/v3/watch",
                                json={"create_request": create},
                                headers=headers,
                            )
                        )
                    except Unreachable as exc:
                        failures.append(f"{endpoint}: {exc}")
                        continue
                    except httpx.TransportError as exc:
                        failures.append(f"{endpoint}: {_said(exc)}")
                        continue
                    if response.status_code != 200:
                        answer = _json_or_empty(await response.aread())
                        if self._token_gone(answer):
                            # Expired, or etcd restarted (simple tokens live in its memory):
                            # the next attempt authenticates again.
                            self._token = None
                            raise Unreachable(f"{endpoint}: the auth token is no longer valid")
                        raise self._error(endpoint, answer)
                if scope.cancelled_caught:
                    failures.append(f"{endpoint}: no answer within {self._request_timeout} s")
                    continue
                self._current = index
                # Closed here, cancelled or not: an async generator left suspended would be
                # finalized later by the garbage collector, with a ResourceWarning.
                # (httpx types it an AsyncIterator; it is an async generator.)
                generator = cast("AsyncGenerator[str, None]", response.aiter_lines())
                async with contextlib.aclosing(generator) as lines:
                    yield WatchStream(endpoint, lines, self)
                return
        raise Unreachable("; ".join(failures))


class WatchStream:
    """The results of one open watch, one per ``next()``."""

    def __init__(self, endpoint: str, lines: AsyncIterator[str], gateway: Gateway) -> None:
        self.endpoint = endpoint
        self._lines = lines
        self._gateway = gateway

    def cancelled(self, reason: str) -> Unreachable:
        """The error for a watch etcd cancelled (not for compaction): to be opened again,
        with a new token if the reason is the token."""
        if self._gateway._token_gone({"message": reason}):
            self._gateway._token = None
        return Unreachable(f"{self.endpoint}: etcd cancelled the watch: {reason}")

    async def next(self) -> Mapping[str, Any]:
        """The next ``result`` object. The stream's end, a cut connection and an ``error``
        object are ``Unreachable`` (the watch is to be opened again); an error that says the
        token expired drops the token first, so the next open authenticates again."""
        import httpx

        while True:
            try:
                line = await self._lines.__anext__()
            except StopAsyncIteration:
                raise Unreachable(f"{self.endpoint}: the watch stream ended") from None
            except httpx.TransportError as exc:
                raise Unreachable(f"{self.endpoint}: {_said(exc)}") from None
            if not line.strip():
                continue
            message = _json_or_empty(line.encode())
            result = message.get("result")
            if isinstance(result, Mapping):
                return result
            error = message.get("error")
            if isinstance(error, Mapping) and self._gateway._token_gone(error):
                self._gateway._token = None
            reason = error.get("message", error) if isinstance(error, Mapping) else line[:200]
            raise Unreachable(f"{self.endpoint}: the watch stream said: {reason}")


def compact_revision(result: Mapping[str, Any]) -> int:
    """The revision a cancelled watch names as compacted (0: not a compaction)."""
    return number(result, "compact_revision")


def _json_or_empty(raw: bytes) -> Mapping[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, Mapping) else {}


def _said(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def client(verify: bool | ssl.SSLContext) -> httpx.AsyncClient:
    """The HTTP client: TLS as given, and no timeouts of httpx's own. Every request is bounded
    by a cancel scope instead, and an idle watch must not be cut by a read timeout."""
    import httpx

    # No keep-alive: a pooled connection gone half-open would hang the next request until
    # request_timeout. Requests are few (the watch is one long request; ranges come at start
    # and after a compaction), so a fresh connection each costs nothing that matters.
    limits = httpx.Limits(max_keepalive_connections=0)
    return httpx.AsyncClient(verify=verify, timeout=httpx.Timeout(None), limits=limits)
