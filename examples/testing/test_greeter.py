"""Tests of greeter.py: one against real files and a real reloader (the ``config_files``
fixture), one of the handler alone, with a live value the test sets by hand."""

from __future__ import annotations

import trio
import trio.testing
from greeter import Config, greet, validate

import trioconf
from trioconf.testing import ConfigFiles, expect_outcome, static


async def test_a_saved_greeting_is_applied_and_an_empty_one_refused(
    config_files: ConfigFiles,
) -> None:
    path = config_files.write("greeter.toml", 'greeting = "hello"\n')
    async with trioconf.open_reloader(Config, path, validate=validate) as live:
        with trio.fail_after(5):  # an edit the reloader never sees fails, not hangs
            async with expect_outcome(live) as outcome:
                config_files.write("greeter.toml", 'greeting = "hi"\n')
        assert outcome.applied
        assert live.current.greeting == "hi"

        with trio.fail_after(5):
            async with expect_outcome(live) as outcome:
                config_files.write("greeter.toml", 'greeting = ""\n', mode="inplace")
        assert isinstance(outcome.error, trioconf.RejectedError)
        assert live.current.greeting == "hi"  # the last good one stays


async def test_each_connection_reads_the_greeting_current_then() -> None:
    live = static(Config(greeting="hello"))
    with live.open_view(lambda c: c.greeting) as view:
        replies = []
        for greeting in ("hello", "moin"):
            live.set(Config(greeting=greeting))
            client, server = trio.testing.memory_stream_pair()
            await greet(view, server)
            replies.append(await client.receive_some())
    assert replies == [b"hello!\n", b"moin!\n"]
