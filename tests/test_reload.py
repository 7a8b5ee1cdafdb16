"""``live.reload()``: it joins the open batch, it never hangs, and each caller gets its own error
(issue 8, items 1 and 4)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import attrs
import pytest
import trio
import trio.testing
import trio_parallel
from support import PATIENCE, wait_until

import trioconf
from trioconf._formats import INLINE_LIMITS


@attrs.frozen
class Config:
    name: str = "none"
    items: dict[str, int] = attrs.Factory(dict)


def big(name: str, entries: int) -> str:
    return json.dumps({"name": name, "items": {f"key{i}": i for i in range(entries)}})


async def test_reload_settles_when_the_reloader_closes_mid_attempt(tmp_path: Path) -> None:
    # The attempt carrying the request parses a large file in a worker; the reloader closes
    # meanwhile. The caller must get ClosedResourceError, not wait forever.
    path = tmp_path / "big.json"
    path.write_text(big("one", 10))
    outcome: list[BaseException | None] = []
    async with trio_parallel.cache_scope(), trio.open_nursery() as callers:
        async with trio.open_nursery() as nursery:
            live = await nursery.start(functools.partial(trioconf.run_reloader, Config, path))
            path.write_text(big("two", 400_000))
            assert path.stat().st_size > INLINE_LIMITS["json"]
            reloads = live.statistics().reloads

            async def caller() -> None:
                try:
                    await live.reload()
                except trio.ClosedResourceError as exc:
                    outcome.append(exc)
                else:
                    outcome.append(None)

            callers.start_soon(caller)
            await wait_until(lambda: live.statistics().reloads > reloads)  # the attempt runs
            nursery.cancel_scope.cancel()
        await wait_until(lambda: bool(outcome))  # bounded: PATIENCE
    (error,) = outcome
    assert isinstance(error, trio.ClosedResourceError)


async def test_reload_settles_when_the_reloader_closes_with_its_batch_open(
    tmp_path: Path,
) -> None:
    # The request waits in the debouncer's open batch (a long quiet window); then the
    # reloader closes.
    path = tmp_path / "app.json"
    path.write_text(json.dumps({"name": "one"}))
    with trio.fail_after(PATIENCE):
        async with trio.open_nursery() as callers, trio.open_nursery() as nursery:
            live = await nursery.start(
                functools.partial(
                    trioconf.run_reloader, Config, path, debounce=60, max_debounce=120
                )
            )
            path.write_text(json.dumps({"name": "two"}))
            await wait_until(lambda: live.statistics().events > 0)

            async def caller() -> None:
                with pytest.raises(trio.ClosedResourceError):
                    await live.reload()

            callers.start_soon(caller)
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()


async def test_reload_after_close_raises_closed(tmp_path: Path) -> None:
    path = tmp_path / "app.json"
    path.write_text(json.dumps({"name": "one"}))
    async with trioconf.open_reloader(Config, path) as live:
        pass
    with pytest.raises(trio.ClosedResourceError):
        await live.reload()


async def test_each_reload_caller_gets_its_own_error(tmp_path: Path) -> None:
    path = tmp_path / "app.json"
    path.write_text(json.dumps({"name": "one"}))
    errors: list[trioconf.ConfigError] = []
    async with trioconf.open_reloader(Config, path, debounce=0) as live:
        path.write_text('{"name": "two", "items": {"a": "not a number"}}')

        async def caller() -> None:
            try:
                await live.reload()
            except trioconf.ConfigError as exc:
                errors.append(exc)

        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(caller)
        recorded = live.last_error
    assert len(errors) == 3
    assert recorded is not None
    assert len({id(e) for e in [*errors, recorded]}) == 4  # four objects, one per holder
    assert {str(e) for e in errors} == {str(recorded)}
    assert all(isinstance(e, trioconf.ValidationError) for e in errors)
    assert all(e.errors == recorded.errors for e in errors)  # type: ignore[attr-defined]
    # Each raised once, in its own task: a traceback through one caller's frames only.
    for error in errors:
        tb, frames = error.__traceback__, []
        while tb is not None:
            frames.append(tb.tb_frame.f_code.co_name)
            tb = tb.tb_next
        assert frames.count("caller") == 1, frames


async def test_reload_joins_a_change_under_way(tmp_path: Path) -> None:
    # A writer has the file open and has written a first half that parses on its own. A
    # reload() must wait for it (the watcher holds the path), not read the half.
    path = tmp_path / "app.yaml"
    path.write_text("name: one\n")
    async with trioconf.open_reloader(Config, path, backend="inotify") as live:
        with path.open("w") as f:
            f.write("name: two\nitems:\n  a: 1\n")  # a valid document already
            f.flush()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(live.reload)
                await trio.sleep(0.3)  # the reload is waiting, the loop runs
                assert live.current == Config("one")
                f.write("  b: 2\n")
                f.flush()
                f.close()  # IN_CLOSE_WRITE: the report the reload waits for
        assert live.current == Config("two", {"a": 1, "b": 2})
        assert [r.config for r in live.history if isinstance(r, trioconf.Update)] == [
            Config("one"),
            Config("two", {"a": 1, "b": 2}),
        ]
