"""Where a save's latency goes: time spent in each task, and in the kernel and scheduler.

The latency benchmark gives totals; this one explains them. A Trio ``Instrument`` times every
task step between a write finishing and the waiting task seeing the snapshot, for the floor and
for trioconf (debounce 0, inotify), on the same ~30-line TOML file with the same rests as the
latency cells. Per save it reports the medians of:

- the time each task ran (the floor has one task: the waiter, which reads, parses and
  structures itself; trioconf has its watcher, debouncer and updater before the waiter);
- the number of scheduler passes (each a round through ``epoll_wait``);
- the rest of the wall time: the kernel delivering the event and waking the process, and the
  scheduler itself between steps.

Run: ``python -m bench.stages [--samples N]``; ``python -m bench`` includes it as ``stages``.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from . import latency

# Task names as Trio reports them (the function's qualified name), shown by role.
_ROLES = {
    "run": "watcher",
    "run_watcher": "watcher",
    "run_debouncer": "debouncer",
    "run_updater": "updater",
}


class _Steps(trio.abc.Instrument):
    """Time every task step and count scheduler passes while ``armed``."""

    def __init__(self) -> None:
        self.armed = False
        self.busy: dict[str, float] = collections.defaultdict(float)
        self.passes = 0
        self._started: float | None = None

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        # Only steps that start after the write: the writer's own step is not the reload's.
        self._started = time.perf_counter() if self.armed else None

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        if self._started is not None:
            name = task.name.rsplit(".", 1)[-1]
            self.busy[_ROLES.get(name, "waiter")] += time.perf_counter() - self._started
            self._started = None

    def close_step(self, now: float) -> None:
        """Count the waiter's step in progress (the one that saw the snapshot) up to ``now``."""
        if self._started is not None:
            self.busy["waiter"] += now - self._started
            self._started = None

    def before_io_wait(self, timeout: float) -> None:
        if self.armed:
            self.passes += 1

    def reset(self) -> None:
        self.busy.clear()
        self.passes = 0


async def _measure(
    contender: latency.Contender, path: Path, mode: str, samples: int, rest: float
) -> dict[str, list[float]]:
    steps = _Steps()
    out: dict[str, list[float]] = collections.defaultdict(list)
    version = 1
    path.write_text(latency.document(0))
    async with contender(path) as wait:
        await latency._prime(path, wait, version)
        version += 50
        trio.lowlevel.add_instrument(steps)
        try:
            for i in range(samples + 20):  # the first 20 warm up
                latency.write(path, latency.document(version), mode)
                steps.reset()
                steps.armed = True
                t0 = time.perf_counter()
                await wait(version)
                now = time.perf_counter()
                total = now - t0
                steps.close_step(now)
                steps.armed = False
                if i >= 20:
                    out["total"].append(total)
                    for role in ("watcher", "debouncer", "updater", "waiter"):
                        out[role].append(steps.busy.get(role, 0.0))
                    out["passes"].append(steps.passes)
                    out["kernel and scheduler"].append(total - sum(steps.busy.values()))
                version += 1
                await trio.sleep(rest)
        finally:
            trio.lowlevel.remove_instrument(steps)
    return out


def run(samples: int = 500, mode: str = "inplace") -> dict[str, dict[str, float]]:
    """Medians per contender: microseconds per role, and scheduler passes."""
    cells = {
        "floor": latency.floor,
        "trioconf inotify": latency.trioconf_contender(debounce=0, backend="inotify"),
    }
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, contender in cells.items():
            path = Path(tmp) / f"{name.replace(' ', '-')}.toml"
            got = trio.run(_measure, contender, path, mode, samples, 0.002)
            results[name] = {
                key: statistics.median(values) * (1 if key == "passes" else 1e6)
                for key, values in got.items()
            }
    return results


def table(results: dict[str, dict[str, float]]) -> str:
    """A Markdown table: one row per role, one column per contender (µs, medians)."""
    names = list(results)
    rows = [
        "| per save (median) | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for key in ("watcher", "debouncer", "updater", "waiter", "kernel and scheduler", "total"):
        cells = [f"{results[n].get(key, 0.0):.0f} µs" for n in names]
        label = f"**{key}**" if key == "total" else key
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    passes = [f"{results[n].get('passes', 0.0):.0f}" for n in names]
    rows.append("| scheduler passes | " + " | ".join(passes) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--mode", default="inplace", choices=["inplace", "rename"])
    args = parser.parse_args(argv)
    results = run(args.samples, args.mode)
    print(f"where the time goes, {args.mode} writes, debounce 0, {args.samples} saves")
    print(table(results))
    return results


if __name__ == "__main__":
    main()
