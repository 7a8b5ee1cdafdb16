"""etcd put → new typed snapshot, against the raw gateway watch in the same run.

A real etcd (``/usr/bin/etcd``, Debian's ``etcd-server``) is started on free ports with a data
dir in a temporary folder. Each sample puts a new value of ``/bench/n`` (the put runs in a
thread, with a blocking httpx client, as another program's would; the clock starts just before
it is sent) and stops when:

- raw: a bare watch stream on the gateway (httpx, one ``/v3/watch`` request, lines read as
  they come) has decoded the event carrying that value;
- trioconf: a task waiting in ``live.wait_value`` sees the snapshot whose ``n`` is that value
  (``trioconf.Etcd(url, prefix="/bench/")``, ``debounce=0``, and once more with the default
  debounce to say what it adds).

The cells run in blocks, interleaved, so that drift on this shared machine hits them alike.
Standalone: ``python -m bench.etcd [--samples N] [--quick]``; prints its table, writes nothing.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import attrs
import httpx
import trio

import trioconf
from trioconf._settings import Settings

ETCD = "/usr/bin/etcd"
_BLOCK = 25  # samples per cell before the next cell's turn
_REST = 0.6  # seconds between two puts with a debounce: more than the default max_debounce


@attrs.frozen
class Config:
    n: int = 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class EtcdProcess:
    """A real etcd on free ports with a data dir in a temporary folder, killed (SIGKILL, as a
    crash) and started again on the same ports and data on demand; removed at the end."""

    def __init__(self) -> None:
        if not os.path.exists(ETCD):
            raise SystemExit(f"{ETCD} is not installed (apt-get install etcd-server)")
        self.folder = tempfile.mkdtemp(prefix="trioconf-bench-etcd-")
        self.url = f"http://127.0.0.1:{_free_port()}"
        self.peer = f"http://127.0.0.1:{_free_port()}"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> EtcdProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)

    def start(self) -> None:
        args = [
            ETCD,
            "--name=bench",
            f"--data-dir={self.folder}/data",
            f"--listen-client-urls={self.url}",
            f"--advertise-client-urls={self.url}",
            f"--listen-peer-urls={self.peer}",
            f"--initial-advertise-peer-urls={self.peer}",
            f"--initial-cluster=bench={self.peer}",
            "--heartbeat-interval=10",
            "--election-timeout=100",
        ]
        with open(os.path.join(self.folder, "etcd.log"), "ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        with httpx.Client(timeout=1.0) as http:
            while True:  # polled: etcd says nothing when it has a leader
                with contextlib.suppress(httpx.HTTPError):
                    if http.post(f"{self.url}/v3/kv/range", json={"key": _b64("x")}).is_success:
                        return
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise SystemExit(f"etcd did not start: see {self.folder}/etcd.log")
                time.sleep(0.02)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def cpu_seconds(self) -> float:
        """etcd's user + system CPU time so far (from /proc)."""
        assert self.process is not None
        return cpu_seconds(self.process.pid)


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time so far, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Putter:
    """Puts ``/bench/n`` from a thread, as another program would; returns the send time."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(timeout=10.0)
        self.value = 0

    async def put(self) -> tuple[int, float]:
        self.value += 1
        value = self.value
        body = {"key": _b64("/bench/n"), "value": _b64(str(value))}
        sent = time.perf_counter()
        await trio.to_thread.run_sync(lambda: self.http.post(f"{self.url}/v3/kv/put", json=body))
        return value, sent


Cell = Callable[[Putter, int], Awaitable[list[float]]]


@contextlib.asynccontextmanager
async def raw_watch(url: str) -> AsyncIterator[Callable[[int], Awaitable[float]]]:
    """A bare gateway watch of ``/bench/n``; yields ``seen(value)``, which waits for the event
    carrying ``value`` and returns when it was decoded."""
    seen: dict[int, float] = {}
    arrived = trio.Event()
    request = {"create_request": {"key": _b64("/bench/n")}}

    async def follow(task_status: trio.TaskStatus[None]) -> None:
        nonlocal arrived
        timeout = httpx.Timeout(10.0, read=None)  # an idle watch is no timeout
        async with (
            httpx.AsyncClient(timeout=timeout) as http,
            http.stream("POST", f"{url}/v3/watch", json=request) as response,
        ):
            task_status.started()
            async for line in response.aiter_lines():
                now = time.perf_counter()
                for event in json.loads(line).get("result", {}).get("events", ()):
                    value = int(base64.b64decode(event["kv"].get("value", "")) or 0)
                    seen[value] = now
                arrived.set()
                arrived = trio.Event()

    async def wait(value: int) -> float:
        while value not in seen:
            await arrived.wait()
        return seen.pop(value)

    async with trio.open_nursery() as nursery:
        await nursery.start(follow)
        yield wait
        nursery.cancel_scope.cancel()


async def raw_cell(url: str, putter: Putter, samples: int) -> list[float]:
    out = []
    async with raw_watch(url) as seen:
        for _ in range(samples + 1):  # the first primes the stream
            value, sent = await putter.put()
            out.append(await seen(value) - sent)
    return out[1:]


async def trioconf_cell(url: str, putter: Putter, samples: int, debounce: float) -> list[float]:
    out = []
    source = trioconf.Etcd(url, prefix="/bench/")
    async with (
        trioconf.open_reloader(Config, source, debounce=debounce) as live,
        trio.open_nursery() as nursery,
    ):
        for _ in range(samples + 1):
            if debounce:
                # Paced past the debouncer's ceiling: back-to-back puts are a key that churns,
                # whose window doubles up to max_debounce (see _debounce), which is not what
                # "the default debounce adds" to one change means.
                await trio.sleep(_REST)
            # Armed before the put: the put's own response may come back after the snapshot
            # was seen, and must not count (the raw cell notes its event as it is decoded).
            seen: list[float] = []
            done = trio.Event()
            await nursery.start(_note_seen, live, putter.value + 1, seen, done)
            _, sent = await putter.put()
            await done.wait()
            out.append(seen[0] - sent)
    return out[1:]


async def _note_seen(
    live: trioconf.Live[Config],
    value: int,
    seen: list[float],
    done: trio.Event,
    *,
    task_status: trio.TaskStatus[None],
) -> None:
    task_status.started()
    await live.wait_value(lambda c: c.n == value)
    seen.append(time.perf_counter())
    done.set()


def _summary(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p50 = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"p50 {p50:7.3f} ms   p99 {p99:7.3f} ms   n={len(ms)}"


async def run(samples: int, default_samples: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"raw watch": [], "trioconf, debounce=0": []}
    with EtcdProcess() as server:
        url = server.url
        putter = Putter(url)
        try:
            done = 0
            while done < samples:
                block = min(_BLOCK, samples - done)
                results["raw watch"] += await raw_cell(url, putter, block)
                results["trioconf, debounce=0"] += await trioconf_cell(url, putter, block, 0)
                done += block
            default: float = attrs.fields(Settings).debounce.default  # the reloader's own
            name = f"trioconf, default debounce ({default * 1000:g} ms)"
            results[name] = await trioconf_cell(url, putter, default_samples, default)
        finally:
            putter.http.close()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.etcd", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--samples", type=int, default=1000, help="samples per fast cell")
    parser.add_argument("--quick", action="store_true", help="100 samples, 20 with the default")
    args = parser.parse_args(argv)
    samples, default_samples = (100, 20) if args.quick else (args.samples, args.samples // 10)
    results = trio.run(run, samples, default_samples)
    raw = statistics.median(results["raw watch"])
    print(f"etcd put -> seen, {os.cpu_count()} cores")
    for name, values in results.items():
        ratio = statistics.median(values) / raw
        added = (statistics.median(values) - raw) * 1000
        print(f"  {name:<40} {_summary(values)}   {ratio:4.2f}x raw, +{added:.3f} ms")


if __name__ == "__main__":
    main()
