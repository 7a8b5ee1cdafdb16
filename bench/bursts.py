"""Bursts: 1,000 saves about 1 ms apart, against trioconf at its default debounce.

Per trial, a child process (bench/_writer.py: why a process, not a thread, is explained there)
saves the ~30-line TOML config of the latency benchmark 1,000 times, in place or by atomic
rename, each save carrying its sequence number in ``version``. A Trio task iterates
``live.records()`` (every record, in order, none skipped) and stamps each applied snapshot with
``time.perf_counter()`` as it receives it. Then, per trial:

* applied: how many snapshots were published (coalesced = 1 - applied / saves);
* staleness of every save: from the moment that save finished to the first applied snapshot
  whose sequence is at least that save's;
* whether the final snapshot, once the reloader is quiet again, holds the last save.

One clock on both sides: the writer's and the reader's ``time.perf_counter()`` are the same
system-wide CLOCK_MONOTONIC on Linux. (Trio's own default clock is ``perf_counter`` plus a
random offset, so ``trio.current_time()`` would need converting; it is not used here.)

Trials alternate the two write modes and open a fresh reloader each, so the adaptive debounce
window starts from its base every time.
"""

from __future__ import annotations

import inspect
import itertools
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

import trioconf

from .latency import Config, document, quantile

ROOT = Path(__file__).resolve().parent.parent
# trioconf's defaults, read from its signature so that the target follows them.
_DEFAULTS = inspect.signature(trioconf.open_reloader).parameters
DEBOUNCE: float = _DEFAULTS["debounce"].default
MAX_DEBOUNCE: float = _DEFAULTS["max_debounce"].default
SETTLE = MAX_DEBOUNCE + 1.5  # how long after the last save the final snapshot may take
MODES = ("inplace", "rename")


async def trial(
    directory: Path, mode: str, saves: int, interval: float, first: int
) -> dict[str, Any]:
    """One burst against a fresh reloader; the figures of that trial."""
    path = directory / "config.toml"
    path.write_text(document(first - 1))
    template = document("%SEQ%")  # type: ignore[arg-type]  # the writer substitutes it
    applied: list[tuple[float, int]] = []
    failures = 0
    async with trioconf.open_reloader(Config, path) as live:
        assert live.current.version == first - 1
        arrived = trio.Event()
        last = first + saves - 1

        async def consume() -> None:
            nonlocal failures
            async for record in live.records():
                now = time.perf_counter()
                if isinstance(record, trioconf.Failure):
                    failures += 1
                    continue
                # A PastUpdate (read more than 4 versions late) has no config to time.
                assert isinstance(record, trioconf.Update), f"consumer fell behind: {record}"
                applied.append((now, record.config.version))
                if record.config.version == last:
                    arrived.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(consume)
            job = {
                "path": str(path),
                "mode": mode,
                "template": template,
                "first": first,
                "count": saves,
                "interval": interval,
            }
            child = await trio.run_process(
                [sys.executable, "-m", "bench._writer"],
                stdin=json.dumps(job).encode(),
                capture_stdout=True,
                cwd=ROOT,
            )
            written: list[float] = json.loads(child.stdout)
            with trio.move_on_after(SETTLE):
                await arrived.wait()
            # Anything later than the last save would be a spurious reload: give it the
            # time a debounce window takes before the final snapshot is judged.
            await trio.sleep(MAX_DEBOUNCE + 0.1)
            final = live.current.version
            stats = live.statistics()
            nursery.cancel_scope.cancel()
    staleness, missing = _staleness(written, applied, first)
    sequences = [s for _, s in applied]
    return {
        "mode": mode,
        "saves": saves,
        "span": written[-1] - written[0],
        "spacing_p50": statistics.median(b - a for a, b in itertools.pairwise(written)),
        "applied": len(applied),
        "failures": failures,
        "events": stats.events,
        "batches": stats.batches,
        "final_right": final == last,
        "final": final,
        "last": last,
        "in_order": sequences == sorted(sequences),
        "unseen": missing,
        "staleness": staleness,
    }


def _staleness(
    written: list[float], applied: list[tuple[float, int]], first: int
) -> tuple[list[float], int]:
    """Seconds from each save to the first applied snapshot that includes it, and how many
    saves no applied snapshot included (only possible if the final snapshot is wrong)."""
    out = []
    j = 0
    for i, done in enumerate(written):
        seq = first + i
        while j < len(applied) and applied[j][1] < seq:
            j += 1
        if j == len(applied):
            return out, len(written) - i
        out.append(applied[j][0] - done)
    return out, 0


def summarise(trials: list[dict[str, Any]], mode: str) -> dict[str, Any]:
    mine = [t for t in trials if t["mode"] == mode]
    stale = [s for t in mine for s in t["staleness"]]
    coalesced = [1 - t["applied"] / t["saves"] for t in mine]
    return {
        "trials": len(mine),
        "saves": mine[0]["saves"],
        "spacing_p50": statistics.median(t["spacing_p50"] for t in mine),
        "span_p50": statistics.median(t["span"] for t in mine),
        "applied_p50": statistics.median(t["applied"] for t in mine),
        "applied_max": max(t["applied"] for t in mine),
        "coalesced_min": min(coalesced),
        "failures": sum(t["failures"] for t in mine),
        "final_right": sum(t["final_right"] for t in mine),
        "in_order": all(t["in_order"] for t in mine),
        "unseen": sum(t["unseen"] for t in mine),
        "samples": len(stale),
        "staleness_min": min(stale),
        "staleness_p50": quantile(stale, 0.5),
        "staleness_p99": quantile(stale, 0.99),
        "staleness_p999": quantile(stale, 0.999),
        "staleness_max": max(stale),
    }


async def measure(
    trials: int, saves: int, interval: float, directory: Path, progress: Any = print
) -> list[dict[str, Any]]:
    out = []
    first = 1_000
    for n in range(trials):
        for mode in MODES if n % 2 == 0 else MODES[::-1]:
            out.append(await trial(directory, mode, saves, interval, first))
            first += saves + 1_000
        progress(f"  bursts: trial {n + 1}/{trials}")
    return out


def run(quick: bool, trials: int | None = None) -> dict[str, Any]:
    """The bursts part of ``python -m bench``: per-mode summaries and per-trial counts."""
    trials = trials or (2 if quick else 20)
    saves, interval = 1000, 0.001
    with tempfile.TemporaryDirectory() as tmp:
        done = trio.run(measure, trials, saves, interval, Path(tmp))
    return {
        "debounce": DEBOUNCE,
        "max_debounce": MAX_DEBOUNCE,
        "interval": interval,
        "modes": {mode: summarise(done, mode) for mode in MODES},
        "trials": [
            {k: v for k, v in t.items() if k != "staleness"}
            | {"staleness_max": max(t["staleness"], default=math.nan)}
            for t in done
        ],
    }


def main() -> None:
    result = run(quick="--quick" in sys.argv)
    for mode, s in result["modes"].items():
        print(mode, json.dumps(s, indent=1))


if __name__ == "__main__":
    main()
