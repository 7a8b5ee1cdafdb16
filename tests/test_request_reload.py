"""``live.request_reload()`` and ``reload_signal``: a reload that never raises into its caller
(issue 10, "Signals and reload"), and the refusal to start outside Trio."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import threading
from pathlib import Path

import attrs
import pytest
import trio
from support import PATIENCE

import trioconf
from trioconf import Failure


@attrs.frozen
class Config:
    port: int = 0
    name: str = "none"


# The poll backend with an interval longer than any test: the watcher never sees an edit, so
# only a requested reload can read it.
UNWATCHED = {"backend": "poll", "poll_interval": 3600.0}


async def test_request_reload_returns_at_once_and_the_edit_applies(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text("port = 1\n")
    async with trioconf.open_reloader(Config, path, **UNWATCHED) as live:
        path.write_text("port = 2\n")
        assert live.request_reload() is None  # sync: no await, nothing to wait for
        assert live.current.port == 1  # not read yet: the updater does it in its own task
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.port == 2)
        assert live.version == 2


async def test_a_bad_edit_requested_is_recorded_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text("port = 1\n")
    async with trioconf.open_reloader(Config, path, **UNWATCHED) as live:
        path.write_text('port = "eighty"\n')
        records = live.records()  # from now on: armed before the request
        live.request_reload()
        with trio.fail_after(PATIENCE):
            async for record in records:
                if isinstance(record, Failure):
                    break
        assert isinstance(live.last_error, trioconf.ValidationError)
        assert "port" in str(live.last_error)
        assert live.current.port == 1  # the last good snapshot stays
        path.write_text("port = 3\n")  # and the reloader still runs
        live.request_reload()
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.port == 3)
        assert live.last_error is None


async def test_request_reload_after_close_does_nothing(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text("port = 1\n")
    async with trioconf.open_reloader(Config, path, **UNWATCHED) as live:
        pass
    live.request_reload()  # no exception, no task started anywhere


@pytest.mark.parametrize("debounce", [0, 0.05])
async def test_a_flood_of_requests_fills_the_channel_and_loses_none(
    tmp_path: Path, debounce: float
) -> None:
    # More requests than the event channel holds, from a task that never yields: those that
    # do not fit wait their turn in the reloader's nursery. The last edit applies, and every
    # ticket is settled (none left open to hang the close).
    path = tmp_path / "app.toml"
    path.write_text("port = 1\n")
    async with trioconf.open_reloader(Config, path, debounce=debounce, **UNWATCHED) as live:
        path.write_text("port = 2\n")
        for _ in range(3000):
            live.request_reload()
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.port == 2)
        path.write_text("port = 3\n")
        live.request_reload()
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.port == 3)
    assert live.last_error is None


@pytest.mark.parametrize("how", ["open_reloader", "run_reloader"])
async def test_reload_signal_reloads_on_each_signal(tmp_path: Path, how: str) -> None:
    path = tmp_path / "app.toml"
    path.write_text("port = 1\n")
    options = {"reload_signal": signal.SIGHUP, **UNWATCHED}
    async with trio.open_nursery() as nursery:
        if how == "open_reloader":
            live = await nursery.start(_hold_open, path, options)
        else:
            start = functools.partial(trioconf.run_reloader, Config, path, **options)
            live = await nursery.start(start)
        for port in (2, 3):
            path.write_text(f"port = {port}\n")
            os.kill(os.getpid(), signal.SIGHUP)
            with trio.fail_after(PATIENCE):
                await live.wait_value(lambda c, port=port: c.port == port)
        path.write_text('port = "x"\n')  # a bad edit on a signal is recorded, the process lives
        records = live.records()  # from now on: armed before the signal
        os.kill(os.getpid(), signal.SIGHUP)
        with trio.fail_after(PATIENCE):
            async for record in records:
                if isinstance(record, Failure):
                    break
        assert live.current.port == 3
        nursery.cancel_scope.cancel()
    # The receiver is gone with the reloader: SIGHUP's handler is what it was before.
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_DFL


async def _hold_open(
    path: Path,
    options: dict[str, object],
    *,
    task_status: trio.TaskStatus[trioconf.Live[Config]] = trio.TASK_STATUS_IGNORED,
) -> None:
    async with trioconf.open_reloader(Config, path, **options) as live:  # type: ignore[arg-type]
        task_status.started(live)
        await trio.sleep_forever()


@pytest.mark.parametrize(
    ("value", "error", "words"),
    [
        ("SIGHUP", TypeError, "signal number"),
        (True, TypeError, "signal number"),
        (10_000, ValueError, "no signal"),
        (signal.SIGKILL, ValueError, "SIGKILL"),
    ],
)
async def test_a_wrong_reload_signal_is_a_plain_usage_error(
    tmp_path: Path, value: object, error: type[Exception], words: str
) -> None:
    path = tmp_path / "app.toml"
    path.write_text("port = 1\n")
    with pytest.raises(error, match=words):
        async with trioconf.open_reloader(Config, path, reload_signal=value):  # type: ignore[arg-type]
            pass


def test_reload_signal_outside_the_main_thread_is_a_plain_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text("port = 1\n")
    caught: list[BaseException] = []

    async def main() -> None:
        async with trioconf.open_reloader(Config, path, reload_signal=signal.SIGHUP):
            pass

    def thread() -> None:
        try:
            trio.run(main)
        except BaseException as exc:  # handed to the test's thread
            caught.append(exc)

    worker = threading.Thread(target=thread)
    worker.start()
    worker.join(PATIENCE)
    (exc,) = caught
    assert type(exc) is ValueError
    assert "main thread" in str(exc)
    assert "request_reload" in str(exc)


@pytest.mark.parametrize("how", ["open_reloader", "run_reloader"])
def test_under_asyncio_it_says_trioconf_runs_under_trio(tmp_path: Path, how: str) -> None:
    path = tmp_path / "app.toml"
    path.write_text("port = 1\n")

    async def main() -> None:
        if how == "open_reloader":
            async with trioconf.open_reloader(Config, path):
                pass
        else:
            await trioconf.run_reloader(Config, path)

    with pytest.raises(RuntimeError, match=rf"trioconf.{how} runs under Trio, and this is asyncio"):
        asyncio.run(main())


async def test_a_request_that_does_not_fit_is_sent_later_not_dropped() -> None:
    # The channel full (here: no room at all), a sync caller cannot wait: the request goes
    # through a task of the reloader's nursery, and arrives.
    from trioconf._reloader import _request
    from trioconf._tickets import Ticket, Tickets

    send, receive = trio.open_memory_channel[object](0)
    tickets = Tickets()
    async with trio.open_nursery() as nursery:
        request = _request(tickets, send, nursery)  # type: ignore[arg-type]
        request()
        request()
        with trio.fail_after(PATIENCE):
            got = [await receive.receive(), await receive.receive()]
    assert all(isinstance(ticket, Ticket) for ticket in got)
    receive.close()
    request()  # the receiver is gone: nothing raised
    tickets.close()
