"""Write finished → new typed snapshot visible to a waiting task, debounce 0.

Usage: python bench/latency.py [--samples N] [--backend inotify|poll] [--mode inplace|rename]

Prints p50 / p90 / p99 in milliseconds for trioconf, next to the floor measured in the same run
and interleaved with it: a bare inotify fd awaited with trio.lowlevel.wait_readable, then the
same read, tomli parse and cattrs structure into the same attrs class. The full benchmark suite
(other libraries, bursts, thousands of files) is a later piece of work; this is the quick check.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import struct
import tempfile
import time
from pathlib import Path

import attrs
import cattrs
import tomli
import trio

import trioconf

IN_CLOSE_WRITE = 0x08
IN_MOVED_TO = 0x80
_EVENT = struct.Struct("iIII")


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
host = "127.0.0.1"
port = 8080
workers = 4
timeout = 2.5
debug = false

[limits]
rate = 100
burst = 20
window = 1.0
paths = ["/api", "/admin", "/health"]
"""


def write(path: Path, text: str, mode: str) -> None:
    if mode == "rename":
        tmp = path.with_name(".tmp-" + path.name)
        tmp.write_text(text)
        os.replace(tmp, path)
    else:
        with open(path, "w") as f:
            f.write(text)


async def floor_samples(path: Path, n: int, mode: str, start: int) -> list[float]:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    libc.inotify_add_watch(fd, str(path.parent).encode(), IN_CLOSE_WRITE | IN_MOVED_TO)
    converter = cattrs.Converter()
    samples = []
    try:
        for i in range(start, start + n):
            write(path, document(i), mode)
            t0 = time.perf_counter()
            while True:
                await trio.lowlevel.wait_readable(fd)
                buf = os.read(fd, 65536)
                names = _names(buf)
                if path.name.encode() in names:
                    break
            config = converter.structure(tomli.loads(path.read_text()), Config)
            assert config.version == i
            samples.append(time.perf_counter() - t0)
            await trio.sleep(0.002)
    finally:
        trio.lowlevel.notify_closing(fd)
        os.close(fd)
    return samples


def _names(buf: bytes) -> set[bytes]:
    names = set()
    offset = 0
    while offset < len(buf):
        _, _, _, length = _EVENT.unpack_from(buf, offset)
        offset += _EVENT.size
        names.add(buf[offset : offset + length].rstrip(b"\0"))
        offset += length
    return names


async def trioconf_samples(
    path: Path, n: int, mode: str, start: int, backend: str, poll_interval: float
) -> list[float]:
    samples = []
    async with trioconf.open_reloader(
        Config,
        path,
        debounce=0,
        backend=backend,
        poll_interval=poll_interval,  # type: ignore[arg-type]
    ) as live:
        for i in range(start, start + n):
            write(path, document(i), mode)
            t0 = time.perf_counter()
            await live.wait_value(lambda c, i=i: c.version == i)  # type: ignore[misc]
            samples.append(time.perf_counter() - t0)
            await trio.sleep(0.002)
    return samples


def summary(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    q = statistics.quantiles(ms, n=100)
    return (
        f"{name:<28} n={len(ms):<5} p50={q[49]:7.3f} ms  p90={q[89]:7.3f} ms  p99={q[98]:7.3f} ms"
    )


async def main(samples: int, backend: str, mode: str, poll_interval: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_text(document(0))
        floor: list[float] = []
        ours: list[float] = []
        block = 100
        version = 1
        # Interleave blocks so machine noise hits both alike; the first block of each warms up.
        await floor_samples(path, 20, mode, version)
        version += 20
        await trioconf_samples(path, 20, mode, version, backend, poll_interval)
        version += 20
        while len(ours) < samples:
            floor += await floor_samples(path, block, mode, version)
            version += block
            ours += await trioconf_samples(path, block, mode, version, backend, poll_interval)
            version += block
        print(f"write → snapshot, {mode} writes, debounce 0, {samples} samples each")
        print(summary("floor (bare inotify)", floor))
        print(summary(f"trioconf ({backend})", ours))
        ratio = statistics.median(ours) / statistics.median(floor)
        print(f"trioconf / floor, p50: {ratio:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--backend", default="inotify", choices=["inotify", "poll", "auto"])
    parser.add_argument("--mode", default="inplace", choices=["inplace", "rename"])
    parser.add_argument("--poll-interval", type=float, default=0.01)
    args = parser.parse_args()
    trio.run(main, args.samples, args.backend, args.mode, args.poll_interval)
