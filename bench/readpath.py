"""Read path: what reading the live value costs the tasks that do it.

* ``live.current`` against a plain attribute read through a property (the issue's yardstick);
* a view: its cached read, and publishing a snapshot then reading 1 or 10 views (the catch-up
  each view does lazily on its next read);
* waking 1,000 tasks parked in ``view.wait_value`` by one published snapshot.

Publishing calls ``Publisher.publish``, the updater's own entry point, so that no file system or
parser time hides what the dispatch costs. Timings are the median of repeats, per operation.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import trio
import trio.testing

import trioconf
from trioconf._state import Publisher

from .latency import Config, document


class Plain:
    """The yardstick: a value behind a read-only property, as any hand-written holder has."""

    __slots__ = ("_config",)

    def __init__(self, config: object) -> None:
        self._config = config

    @property
    def current(self) -> object:
        return self._config


def per_call(
    stmt: Callable[[], object] | str,
    repeat: int,
    namespace: dict[str, Any] | None = None,
    budget: float = 0.2,
) -> float:
    """Median seconds per call over ``repeat`` timeit runs, each about ``budget`` seconds long
    (at least one call).

    A string statement is compiled into timeit's loop, so no function call is added to it.
    The default budget is timeit's own autorange target; a quick run passes a smaller one.
    """
    timer = timeit.Timer(stmt, globals=namespace)
    if budget >= 0.2:
        number, _ = timer.autorange()
    else:
        once = timer.timeit(number=1)
        number = max(1, int(budget / max(once, 1e-9)))
    return statistics.median(t / number for t in timer.repeat(repeat=repeat, number=number))


async def _run(repeat: int, wake_rounds: int) -> dict[str, float]:
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_text(document(1))
        async with trioconf.open_reloader(Config, path, backend="poll", poll_interval=3600) as live:
            plain = Plain(live.current)
            results["plain property read"] = per_call("x.current", repeat, {"x": plain})
            results["live.current"] = per_call("x.current", repeat, {"x": live})
            configs = [attrs.evolve(live.current, version=v) for v in range(2, 4)]
            changed = frozenset({"version"})
            origins: dict[str, str] = {}
            flip = iter(range(10**12))
            publisher = Publisher(live._state)  # the updater's side of the same live value

            def publish() -> None:
                publisher.publish(configs[next(flip) % 2], changed, origins)

            with live.open_view(lambda c: c.version) as view:
                results["view.current (unchanged)"] = per_call("x.current", repeat, {"x": view})
                results["publish, no view"] = per_call(publish, repeat)

                def publish_read() -> None:
                    publish()
                    view.current  # noqa: B018

                results["publish + read 1 view"] = per_call(publish_read, repeat)

            views = [live.open_view(lambda c: c.version) for _ in range(10)]
            opened = [v.__enter__() for v in views]

            def publish_read_10() -> None:
                publish()
                for v in opened:
                    v.current  # noqa: B018

            results["publish + read 10 views"] = per_call(publish_read_10, repeat)
            for v in views:
                v.__exit__(None, None, None)

            results["wake 1,000 view waiters"] = await _wake(live, wake_rounds)
    return results


async def _wake(live: Any, rounds: int, tasks: int = 1000) -> float:
    """Seconds from publishing a changed snapshot to the last of ``tasks`` waiters returning."""
    times = []
    with live.open_view(lambda c: c.version) as view:
        for r in range(rounds):
            target = 1_000_000 + r
            done = trio.Event()
            left = tasks

            async def waiter(target: int = target, done: trio.Event = done) -> None:
                nonlocal left
                await view.wait_value(lambda v: v == target)
                left -= 1
                if left == 0:
                    done.set()

            async with trio.open_nursery() as nursery:
                for _ in range(tasks):
                    nursery.start_soon(waiter)
                await trio.testing.wait_all_tasks_blocked()
                config = attrs.evolve(live.current, version=target)
                t0 = time.perf_counter()
                Publisher(live._state).publish(config, frozenset({"version"}), {})
                await done.wait()
                times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run(quick: bool) -> dict[str, float]:
    """Seconds per operation, by name."""
    return trio.run(_run, 3 if quick else 7, 5 if quick else 30)
