"""Write finished → new typed snapshot visible to a waiting Trio task.

Every contender watches the same ~30-line TOML file and, after each event that names it, does
the same work: read the file, parse it with tomli, structure it with cattrs into the same attrs
class, and hand the snapshot to a waiting task. The clock starts when the writer has closed
(in-place write) or renamed (atomic save) the file, and stops when the waiting task sees the
snapshot carrying the version just written.

Cells (contender x write mode) are measured in blocks, interleaved and rotated, each contender
primed before its block counts, so machine drift hits all of them alike.

Standalone: ``python bench/latency.py [--samples N] [--mode inplace|rename]`` (needs only what
trioconf's test environment has when run with ``--only floor,trioconf-inotify,...``); the full
suite is ``python -m bench`` (see bench/__main__.py).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import math
import os
import random
import statistics
import struct
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import cattrs
import tomli
import trio

import trioconf

IN_CLOSE_WRITE = 0x08
IN_MOVED_TO = 0x80
_EVENT = struct.Struct("iIII")
POLL_INTERVAL = 0.01  # the poll contender's stat interval (trioconf's default is 1 s)


@attrs.frozen
class Server:
    host: str
    port: int
    workers: int
    timeout: float
    debug: bool


@attrs.frozen
class Limits:
    rate: int
    burst: int
    window: float
    paths: list[str]


@attrs.frozen
class Config:
    name: str
    version: int
    server: Server
    limits: Limits
    tags: list[str]


def document(version: int) -> str:
    return f"""# a ~30 line service config
name = "bench"
version = {version}
tags = ["a", "b", "c"]

[server]
# where it listens
host = "127.0.0.1"
port = 8080
workers = 4
timeout = 2.5
debug = false

[limits]
# request limits
rate = 100
burst = 20
window = 1.0
paths = ["/api", "/admin", "/health"]
"""


def write(path: Path, text: str, mode: str) -> None:
    """One completed save: in place (truncate + write + close) or atomic (temp + rename)."""
    if mode == "rename":
        tmp = path.with_name(".tmp-" + path.name)
        tmp.write_text(text)
        os.replace(tmp, path)
    else:
        with open(path, "w") as f:
            f.write(text)


_CONVERTER = cattrs.Converter()


def load_snapshot(path: Path) -> Config:
    """The per-event work every contender other than trioconf does: read, parse, structure."""
    return _CONVERTER.structure(tomli.loads(path.read_text()), Config)


class Latest:
    """The newest snapshot a contender's own task built, and a lot its waiters park on."""

    def __init__(self) -> None:
        self.config: Config | None = None
        self._lot = trio.lowlevel.ParkingLot()

    def publish(self, config: Config) -> None:
        self.config = config
        self._lot.unpark_all()

    async def wait_version(self, version: int) -> None:
        while self.config is None or self.config.version != version:
            await self._lot.park()


Waiter = Callable[[int], Awaitable[None]]
Contender = Callable[[Path], Any]  # path -> async context manager yielding a Waiter


def _names(buf: bytes) -> set[bytes]:
    names = set()
    offset = 0
    while offset < len(buf):
        _, _, _, length = _EVENT.unpack_from(buf, offset)
        offset += _EVENT.size
        names.add(buf[offset : offset + length].rstrip(b"\0"))
        offset += length
    return names


@asynccontextmanager
async def floor(path: Path) -> AsyncIterator[Waiter]:
    """The physical floor: a bare inotify fd on the directory, awaited by the waiting task
    itself, which then reads, parses and structures."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "inotify_init1")
    libc.inotify_add_watch(fd, str(path.parent).encode(), IN_CLOSE_WRITE | IN_MOVED_TO)
    name = path.name.encode()

    async def wait(version: int) -> None:
        while True:
            await trio.lowlevel.wait_readable(fd)
            if name in _names(os.read(fd, 65536)) and load_snapshot(path).version == version:
                return

    try:
        yield wait
    finally:
        trio.lowlevel.notify_closing(fd)
        os.close(fd)


def trioconf_contender(**options: Any) -> Contender:
    @asynccontextmanager
    async def contender(path: Path) -> AsyncIterator[Waiter]:
        async with trioconf.open_reloader(Config, path, **options) as live:

            async def wait(version: int) -> None:
                await live.wait_value(lambda c: c.version == version)

            yield wait

    return contender


def watchfiles_contender(**options: Any) -> Contender:
    """watchfiles.awatch on the directory (a single-file watch goes blind after the first
    rename), run under Trio through anyio; stopped with a stop_event, because cancelling it
    from a cancel scope takes ~5 s."""

    @asynccontextmanager
    async def contender(path: Path) -> AsyncIterator[Waiter]:
        import anyio
        import watchfiles

        latest = Latest()
        stop = anyio.Event()

        async def pump() -> None:
            async for changes in watchfiles.awatch(path.parent, stop_event=stop, **options):
                if any(os.path.basename(p) == path.name for _, p in changes):
                    latest.publish(load_snapshot(path))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(pump)
            try:
                yield latest.wait_version
            finally:
                stop.set()

    return contender


@asynccontextmanager
async def watchdog_contender(path: Path) -> AsyncIterator[Waiter]:
    """watchdog's Observer thread hands completed writes (closed, moved-to) to Trio through
    run_sync_soon + a memory channel; a Trio task reads, parses and structures."""
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer

    latest = Latest()
    send, receive = trio.open_memory_channel[str](math.inf)
    token = trio.lowlevel.current_trio_token()
    target = str(path)

    class Handler(FileSystemEventHandler):  # type: ignore[misc]
        def on_any_event(self, event: Any) -> None:
            closed = event.event_type == "closed" and event.src_path == target
            moved = event.event_type == "moved" and event.dest_path == target
            if closed or moved:
                token.run_sync_soon(send.send_nowait, target)

    async def pump() -> None:
        async for _ in receive:
            latest.publish(load_snapshot(path))

    observer = Observer()
    observer.schedule(Handler(), str(path.parent), recursive=False)
    observer.start()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(pump)
            try:
                yield latest.wait_version
            finally:
                nursery.cancel_scope.cancel()
    finally:
        observer.stop()
        await trio.to_thread.run_sync(observer.join)


# name -> (contender, description). Fast cells run at debounce 0 (or the contender's fastest).
FAST: dict[str, tuple[Contender, str]] = {
    "floor": (floor, "bare inotify fd + wait_readable (IN_CLOSE_WRITE|IN_MOVED_TO)"),
    "trioconf inotify": (
        trioconf_contender(debounce=0, backend="inotify"),
        "open_reloader(debounce=0, backend='inotify')",
    ),
    "trioconf poll": (
        trioconf_contender(debounce=0, backend="poll", poll_interval=POLL_INTERVAL),
        f"open_reloader(debounce=0, backend='poll', poll_interval={POLL_INTERVAL})",
    ),
    "watchdog": (watchdog_contender, "Observer thread → run_sync_soon → memory channel"),
    "watchfiles fast": (
        watchfiles_contender(debounce=0, step=1),
        "awatch(debounce=0, step=1, stop_event=...)",
    ),
}
# Measured only when named with --only: the watchfiles backend holds each change for its 0.3 s
# settle time, so a sample costs ~0.4 s and a full run's thousands of samples would take long.
ON_REQUEST: dict[str, tuple[Contender, str]] = {
    "trioconf watchfiles": (
        trioconf_contender(debounce=0, backend="watchfiles"),
        "open_reloader(debounce=0, backend='watchfiles')",
    ),
}
# Defaults against defaults. trioconf doubles the quiet window of a file saved again within
# max_debounce (0.5 s) of its last reload, so each file must rest longer than that between two
# samples, or the cell measures that adaptation (the burst benchmark's subject) instead. A rest
# of 0.55 s per sample would cost ~0.6 s a sample (40 minutes for 1,000 samples in 4 cells), so
# these cells rotate over DEFAULTS_FILES files, each in its own directory with its own
# instance of the contender (the same number for every contender): consecutive samples hit
# different files, and each file rests at least DEFAULTS_REST between its own samples.
DEFAULTS: dict[str, tuple[Contender, str]] = {
    "trioconf defaults": (
        trioconf_contender(backend="inotify"),
        "open_reloader() defaults: debounce 50 ms, max_debounce 0.5 s",
    ),
    "watchfiles defaults": (
        watchfiles_contender(),
        "awatch() defaults: step 50 ms, debounce 1600 ms",
    ),
}
DEFAULTS_REST = 0.55  # per file, from its snapshot seen to its next save
DEFAULTS_FILES = 12  # x ~52 ms per sample: each file rests ~0.6 s without waiting
# watchfiles checks for changes every `step` (50 ms): a random wait of up to one step before
# each save spreads the saves over its phase (trioconf's window starts at the event).
DEFAULTS_JITTER = 0.05


async def _prime(path: Path, wait: Waiter, version: int) -> None:
    """Write until the contender reports it: some start watching only on their first step."""
    patience = 0.25
    for _ in range(50):
        write(path, document(version), "inplace")
        with trio.move_on_after(patience):
            await wait(version)
            return
        version += 1
        patience = min(2 * patience, 2.0)
    raise RuntimeError("contender never saw a write")


async def block(
    contender: Contender,
    path: Path,
    mode: str,
    n: int,
    version: int,
    rest: float,
    warmup: int,
    rotate: int = 1,
    path_rest: float = 0.0,
    jitter: float = 0.0,
) -> tuple[list[float], int]:
    """Open the contender, prime it, then time ``n`` saves; returns (seconds, next version).

    With ``rotate`` > 1, one instance of the contender per file, each file in its own
    directory next to ``path``; saves go round the files, and a file saved less than
    ``path_rest`` seconds after its previous snapshot was seen waits until then. ``jitter``
    adds a random wait of up to that many seconds before each save: a contender that checks
    for changes on a fixed step (watchfiles) is otherwise met at the same phase of its step
    by every save, which would measure that phase rather than the contender.
    """
    if rotate == 1:
        paths = [path]
    else:
        paths = [path.parent / f"rotate{k}" / path.name for k in range(rotate)]
        for p in paths:
            p.parent.mkdir(exist_ok=True)
            if not p.exists():
                p.write_text(document(0))
    samples = []
    async with contextlib.AsyncExitStack() as stack:
        waits = [await stack.enter_async_context(contender(p)) for p in paths]
        seen = []
        for p, wait in zip(paths, waits, strict=True):
            await _prime(p, wait, version)
            version += 50
            seen.append(time.perf_counter())
        # Warm-up: a few uncounted saves in this mode per file (caches, first-call paths,
        # the JIT-less interpreter's inline caches).
        for i in range(warmup * rotate + n):
            k = i % rotate
            wait_more = seen[k] + path_rest - time.perf_counter()
            wait_more = max(wait_more, 0.0) + random.uniform(0, jitter)
            if wait_more > 0:
                await trio.sleep(wait_more)
            write(paths[k], document(version), mode)
            t0 = time.perf_counter()
            await waits[k](version)
            seen[k] = time.perf_counter()
            if i >= warmup * rotate:
                samples.append(seen[k] - t0)
            version += 1
            await trio.sleep(rest)
    return samples, version


async def measure(
    cells: dict[str, tuple[Contender, str]],
    modes: list[str],
    samples: int,
    block_size: int,
    rest: float,
    directory: Path,
    progress: Callable[[str], None] = print,
    warmup: int = 3,
    rotate: int = 1,
    path_rest: float = 0.0,
    jitter: float = 0.0,
) -> dict[tuple[str, str], list[float]]:
    """Interleave every (contender, mode) cell in blocks, rotating the order each round."""
    path = directory / "config.toml"
    path.write_text(document(0))
    results: dict[tuple[str, str], list[float]] = {(c, m): [] for c in cells for m in modes}
    order = list(results)
    version = 1
    rounds = 0
    while any(len(v) < samples for v in results.values()):
        shift = rounds % len(order)
        for key in order[shift:] + order[:shift]:
            need = min(block_size, samples - len(results[key]))
            if need <= 0:
                continue
            got, version = await block(
                cells[key[0]][0],
                path,
                key[1],
                need,
                version,
                rest,
                warmup,
                rotate,
                path_rest,
                jitter,
            )
            results[key] += got
        rounds += 1
        done = min(len(v) for v in results.values())
        progress(f"  latency: round {rounds}, {done}/{samples} samples per cell")
    return results


def quantile(samples: list[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation, in the samples' unit."""
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summary(name: str, samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return (
        f"{name:<28} n={len(ms):<5} p50={quantile(ms, 0.5):8.3f} ms  "
        f"p90={quantile(ms, 0.9):8.3f} ms  p99={quantile(ms, 0.99):8.3f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--block", type=int, default=100)
    parser.add_argument("--mode", default="inplace", choices=["inplace", "rename"])
    parser.add_argument(
        "--only",
        default="floor,trioconf inotify",
        help=f"comma-separated, from: {', '.join([*FAST, *ON_REQUEST])}",
    )
    args = parser.parse_args()
    known = {**FAST, **ON_REQUEST}
    cells = {name: known[name] for name in args.only.split(",")}
    with tempfile.TemporaryDirectory() as tmp:
        results = trio.run(measure, cells, [args.mode], args.samples, args.block, 0.002, Path(tmp))
    print(f"write → snapshot, {args.mode} writes, debounce 0, {args.samples} samples each")
    for (name, _), samples in results.items():
        print(summary(name, samples))
    if "floor" in cells:
        base = statistics.median(results["floor", args.mode])
        for (name, _), samples in results.items():
            print(f"{name} / floor, p50: {statistics.median(samples) / base:.2f}x")


if __name__ == "__main__":
    main()
