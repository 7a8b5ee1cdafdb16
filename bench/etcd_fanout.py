"""Fan-out: many reloaders watching one etcd prefix; how long until the last one has a put.

``--processes`` worker processes each run ``--watchers`` reloaders (each its own
``trioconf.Etcd``, so its own watch stream and connection, as separate services would), all in
one Trio run per process, at ``debounce=0``. The parent puts ``/bench/n`` = 1, 2, ... (one put
at a time, each after the previous one reached every watcher), and each worker reports, per
value, the wall-clock time at which the last of its watchers saw it. The figure is the time
from the put being sent to the last watcher of all having it: p50 and p99. Beside it, the CPU
time etcd and the workers used during the puts, as a share of the wall time, so the figure
says what it measures on this 2-core machine.

Standalone: ``python -m bench.etcd_fanout [--processes 4] [--watchers 50] [--puts 200]``;
prints its table, writes nothing.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess
import sys
import textwrap
import time

import httpx

from .etcd import EtcdProcess, cpu_seconds

WORKER = textwrap.dedent(
    """
    import sys, time, trio, attrs, trioconf

    @attrs.frozen
    class Config:
        n: int = 0

    url, watchers, puts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    seen = {}  # value -> how many watchers have it
    last = {}  # value -> time.time() when the last watcher of this process had it

    async def watcher(task_status):
        source = trioconf.Etcd(url, prefix="/bench/")
        async with trioconf.open_reloader(Config, source, debounce=0) as live:
            task_status.started()
            async for config in live.updates():
                n = config.n
                if n == 0:
                    continue  # the initial snapshot: nothing put yet
                seen[n] = seen.get(n, 0) + 1
                if seen[n] == watchers:
                    last[n] = time.time()
                    print(n, last[n], flush=True)
                if n >= puts:
                    return

    async def main():
        async with trio.open_nursery() as nursery:
            for _ in range(watchers):
                await nursery.start(watcher)
            print("ready", flush=True)

    trio.run(main)
    """
)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Worker:
    def __init__(self, url: str, watchers: int, puts: int) -> None:
        command = [sys.executable, "-c", WORKER, url, str(watchers), str(puts)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.lines = self.process.stdout

    def ready(self) -> None:
        line = self.lines.readline()
        if line.strip() != "ready":
            raise SystemExit(f"a worker failed to start: {line!r}")

    def seen(self, value: int) -> float:
        """When the last watcher of this worker had ``value`` (values come in order)."""
        while True:
            n, when = self.lines.readline().split()
            if int(n) == value:
                return float(when)


class Workers(list[Worker]):
    """The worker processes, killed on the way out if they are still running (a failed run
    must not leave orphans reconnecting to an etcd that is gone)."""

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self:
            if worker.process.poll() is None:
                worker.process.kill()
            worker.process.wait()


def run(processes: int, watchers: int, puts: int) -> None:
    with EtcdProcess() as server, httpx.Client(timeout=10.0) as http, Workers() as workers:
        workers += [Worker(server.url, watchers, puts) for _ in range(processes)]
        for worker in workers:
            worker.ready()
        cpu_before = [server.cpu_seconds(), *(cpu_seconds(w.process.pid) for w in workers)]
        wall_before = time.monotonic()
        latencies = []
        for n in range(1, puts + 1):
            body = {"key": _b64("/bench/n"), "value": _b64(str(n))}
            sent = time.time()
            http.post(f"{server.url}/v3/kv/put", json=body).raise_for_status()
            latencies.append(max(w.seen(n) for w in workers) - sent)
        wall = time.monotonic() - wall_before
        cpu_after = [server.cpu_seconds(), *(cpu_seconds(w.process.pid) for w in workers)]
        for worker in workers:
            worker.process.wait(timeout=60)
    used = [after - before for before, after in zip(cpu_before, cpu_after, strict=True)]
    ms = sorted(v * 1000 for v in latencies[5:])  # the first few warm the connections up
    p50, p99 = statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    total = processes * watchers
    cores = os.cpu_count()
    print(f"etcd fan-out: {processes} processes x {watchers} watchers = {total}, {cores} cores")
    print(f"  put -> the last of {total} watchers has it: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(f"  ({len(ms)} puts, one at a time, each sent once the previous one reached all)")
    print(
        f"  CPU over {wall:.1f} s of puts: etcd {used[0] / wall:.0%} of one core, "
        f"the watchers {sum(used[1:]) / wall:.0%} (of {os.cpu_count()} cores' 200%)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.etcd_fanout", description=__doc__)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--watchers", type=int, default=50)
    parser.add_argument("--puts", type=int, default=200)
    args = parser.parse_args(argv)
    run(args.processes, args.watchers, args.puts)


if __name__ == "__main__":
    main()
