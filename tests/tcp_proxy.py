"""A TCP proxy between a client under test and a server, that a test can partition.

``partition()`` cuts every open connection (the client sees its stream end or reset) and
black-holes new ones: they are accepted but nothing is forwarded, as a network partition looks
from a client (no refusal to react to, only silence). ``partition(cut=False)`` leaves the open
connections open but forwards nothing more on them either: half-open connections, which only a
client's own deadline notices. ``heal()`` forwards again (on new connections). It runs as tasks
in the test's nursery, on a free port of 127.0.0.1.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import trio


class TcpProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target_host:target_port`` until partitioned."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.partitioned = False
        self.accepted = 0  # connections accepted so far, forwarded or black-holed
        # One scope per open connection (a CancelScope can be entered once only, so two
        # connections open at a time cannot share one); partition() cancels them all.
        self._open: set[trio.CancelScope] = set()
        self._healed = trio.Event()
        self._frozen = trio.Event()  # set: the open connections forward nothing more

    def partition(self, *, cut: bool = True) -> None:
        """Cut the open connections (or, ``cut=False``, freeze them: open, silent for good) and
        black-hole the new ones until ``heal()``."""
        self.partitioned = True
        self._healed = trio.Event()
        if cut:
            for scope in self._open:
                scope.cancel()
        else:
            self._frozen.set()
            self._frozen = trio.Event()

    def heal(self) -> None:
        self.partitioned = False
        self._healed.set()

    async def _serve(self, listener: trio.SocketListener) -> None:
        async with listener, trio.open_nursery() as nursery:
            while True:
                client = await listener.accept()
                self.accepted += 1
                nursery.start_soon(self._connection, client)

    async def _connection(self, client: trio.SocketStream) -> None:
        async with client:
            if self.partitioned:
                # Black-holed: held open, nothing forwarded, until the proxy closes (a client
                # sees silence, as behind a partition, and must time out on its own).
                await trio.sleep_forever()
            with trio.CancelScope() as cut:
                self._open.add(cut)
                try:
                    server = await trio.open_tcp_stream(*self.target)
                    async with server, trio.open_nursery() as nursery:
                        frozen = self._frozen
                        nursery.start_soon(_pump, client, server, nursery.cancel_scope, frozen)
                        nursery.start_soon(_pump, server, client, nursery.cancel_scope, frozen)
                finally:
                    self._open.discard(cut)


async def _pump(
    source: trio.SocketStream, sink: trio.SocketStream, done: trio.CancelScope, frozen: trio.Event
) -> None:
    try:
        while data := await source.receive_some(65536):
            if frozen.is_set():
                await trio.sleep_forever()  # half-open: the bytes go nowhere, nothing says so
            await sink.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    done.cancel()  # one side ended: end the other, as a connection does


@contextlib.asynccontextmanager
async def open_tcp_proxy(target_host: str, target_port: int) -> AsyncIterator[TcpProxy]:
    """A running ``TcpProxy``; closed (every connection with it) when the block ends."""
    proxy = TcpProxy(target_host, target_port)
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    proxy.port = listeners[0].socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        for listener in listeners:
            nursery.start_soon(proxy._serve, listener)
        try:
            yield proxy
        finally:
            nursery.cancel_scope.cancel()
