"""The partitioning TCP proxy the etcd tests put between trioconf and etcd (tests/tcp_proxy.py)."""

from __future__ import annotations

import trio
from tcp_proxy import open_tcp_proxy


async def _echo(stream: trio.SocketStream) -> None:
    async with stream:
        try:
            while data := await stream.receive_some(1024):
                await stream.send_all(data)
        except trio.BrokenResourceError:
            pass


async def test_the_proxy_forwards_cuts_black_holes_and_heals() -> None:
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(trio.serve_tcp, _echo, 0)
        port = listeners[0].socket.getsockname()[1]
        async with open_tcp_proxy("127.0.0.1", port) as proxy:
            with trio.fail_after(10):
                stream = await trio.open_tcp_stream("127.0.0.1", proxy.port)
                await stream.send_all(b"ping")
                assert await stream.receive_some(1024) == b"ping"

                proxy.partition()
                # The open connection is cut: the client's stream ends.
                assert await stream.receive_some(1024) == b""
                await stream.aclose()
                # A new one is accepted and then nothing: silence, not a refusal.
                silent = await trio.open_tcp_stream("127.0.0.1", proxy.port)
                await silent.send_all(b"anyone?")
                with trio.move_on_after(0.2) as waited:
                    await silent.receive_some(1024)
                assert waited.cancelled_caught
                await silent.aclose()

                proxy.heal()
                stream = await trio.open_tcp_stream("127.0.0.1", proxy.port)
                await stream.send_all(b"again")
                assert await stream.receive_some(1024) == b"again"
                await stream.aclose()
        nursery.cancel_scope.cancel()


async def test_a_partition_without_cut_leaves_open_connections_silent() -> None:
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(trio.serve_tcp, _echo, 0)
        port = listeners[0].socket.getsockname()[1]
        async with open_tcp_proxy("127.0.0.1", port) as proxy:
            with trio.fail_after(10):
                stream = await trio.open_tcp_stream("127.0.0.1", proxy.port)
                await stream.send_all(b"ping")
                assert await stream.receive_some(1024) == b"ping"
                proxy.partition(cut=False)
                await stream.send_all(b"anyone?")  # open still: the send succeeds
                with trio.move_on_after(0.2) as waited:
                    await stream.receive_some(1024)
                assert waited.cancelled_caught
                proxy.heal()
                # New connections forward again, two at a time as well.
                fresh = await trio.open_tcp_stream("127.0.0.1", proxy.port)
                other = await trio.open_tcp_stream("127.0.0.1", proxy.port)
                await fresh.send_all(b"again")
                await other.send_all(b"too")
                assert await fresh.receive_some(1024) == b"again"
                assert await other.receive_some(1024) == b"too"
                await fresh.aclose()
                await other.aclose()
                await stream.aclose()
        nursery.cancel_scope.cancel()
