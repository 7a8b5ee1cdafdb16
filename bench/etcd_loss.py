"""Lost or duplicated etcd updates over many puts, with etcd killed and restarted, and compacted.

A writer thread puts ``/bench/n`` = 1, 2, ... N (retrying a put while etcd is down: a put whose
answer was lost may land twice, as two revisions, which is etcd's own behaviour). While it
runs, etcd is SIGKILLed and restarted on the same data dir three times, and the history is
compacted once, up to the newest revision. A reloader (``trioconf.Etcd``, default debounce)
follows; its ``validate`` notes the etcd revision of every candidate it is shown.

Counted: a revision published twice or out of order (a duplicate), and whether the last
snapshot reaches the revision of the last put (if not, updates were lost). Coalescing is
allowed: many puts may land in one snapshot. Standalone: ``python -m bench.etcd_loss
[--puts N]``; prints its table, writes nothing.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import time

import attrs
import httpx
import trio

import trioconf

from .etcd import Config, EtcdProcess


@attrs.define
class Tally:
    puts: int = 0
    retries: int = 0
    last_revision: int = 0
    published: list[int] = attrs.Factory(list)
    restarts: int = 0
    compacted_at: int = 0


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def writer(url: str, puts: int, tally: Tally, server: EtcdProcess) -> None:
    """The puts, in this thread; kills and restarts etcd at three points, compacts at one."""
    restart_at = {puts // 4, puts // 2, 3 * puts // 4}
    compact_at = 5 * puts // 8
    with httpx.Client(timeout=5.0) as http:
        for n in range(1, puts + 1):
            if n in restart_at:
                server.kill()
                server.start()
                tally.restarts += 1
            while True:
                try:
                    body = {"key": _b64("/bench/n"), "value": _b64(str(n))}
                    answer = http.post(f"{url}/v3/kv/put", json=body).json()
                    tally.last_revision = int(answer["header"]["revision"])
                    break
                except (httpx.HTTPError, KeyError, ValueError):
                    tally.retries += 1
                    time.sleep(0.01)  # etcd restarting: try again shortly
            tally.puts += 1
            if n == compact_at:
                body = {"revision": str(tally.last_revision), "physical": True}
                http.post(f"{url}/v3/kv/compaction", json=body).raise_for_status()
                tally.compacted_at = tally.last_revision


async def run(puts: int) -> Tally:
    tally = Tally()
    with EtcdProcess() as server:
        source = trioconf.Etcd(server.url, prefix="/bench/", max_backoff=0.5)

        def validate(new: Config, old: Config | None) -> None:
            tally.published.append(source.revision)

        async with trioconf.open_reloader(Config, source, validate=validate) as live:
            await trio.to_thread.run_sync(writer, server.url, puts, tally, server)
            with trio.move_on_after(60):
                await live.wait_value(lambda c: source.revision >= tally.last_revision)
    return tally


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.etcd_loss", description=__doc__)
    parser.add_argument("--puts", type=int, default=10_000)
    args = parser.parse_args(argv)
    started = time.monotonic()
    tally = trio.run(run, args.puts)
    published = tally.published[1:]  # the first is the initial read
    duplicates = sum(b <= a for a, b in itertools.pairwise(published))
    reached = bool(published) and published[-1] >= tally.last_revision
    print(f"etcd: {tally.puts} puts ({tally.retries} retried while etcd was down),")
    print(f"  {tally.restarts} SIGKILL + restarts, compaction up to revision {tally.compacted_at}")
    print(f"  snapshots published: {len(published)} (puts coalesce under load)")
    print(f"  duplicated or out of order: {duplicates}")
    print(f"  last put's revision {tally.last_revision} reached: {'yes' if reached else 'NO'}")
    print(f"  lost: {0 if reached else 'the updates after revision ' + str(published[-1])}")
    print(f"  ({time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    main()
