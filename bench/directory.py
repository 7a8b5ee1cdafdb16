"""Thousands of files: a keyed ``trioconf.Directory`` of N TOML files of 10 fields each.

Every figure is a ratio against a baseline measured in the same run, interleaved with it:

1. start-up: ``open_reloader`` until the first snapshot, against a bare loop that reads, parses
   (tomli) and structures (plain cattrs) the same files (keyed mode; then layered mode, each
   file a layer with its own ``[tenants.<name>]`` table, start-up and one-file change);
2. memory: tracemalloc of what the open reloader keeps, against tracemalloc of the structured
   objects alone (and the RSS growth of each, in a fresh child process); then the same after
   1,000 one-file saves with the reloader's default settings, one in ten of them a
   half-written file that is rejected (its record and error kept in the history too);
3. one-file change: write finished (atomic rename) → the new snapshot seen by a waiting task,
   debounce 0, inotify, against the same with one ``File`` holding one such document;
4. idle CPU over a quiet period: the inotify backend against the poll backend (default
   interval);
5. start-up and one-file latency at 100, 1,000 and 10,000 files, for the figure.

Standalone: ``python -m bench.directory [--quick]``; ``run(quick)`` returns the figures and
``table(results)`` formats them as Markdown.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import cattrs
import tomli
import trio

import trioconf

TARGETS = {"startup": 1.5, "memory": 2.0, "memory_after": 2.0, "latency": 2.0, "idle_cpu": 0.01}


@attrs.frozen
class TenantConfig:
    name: str
    host: str
    port: int
    workers: int
    timeout: float
    ratio: float
    enabled: bool
    debug: bool
    tags: list[str]
    version: int


@attrs.frozen
class Config:
    tenants: dict[str, TenantConfig] = attrs.field(factory=dict)


def document(i: int, version: int = 0) -> str:
    return (
        f'name = "tenant-{i}"\nhost = "10.0.{i // 256 % 256}.{i % 256}"\nport = {8000 + i % 1000}\n'
        f"workers = {1 + i % 16}\ntimeout = {1.5 + i % 7}\nratio = 0.{i % 10}5\n"
        f"enabled = {'true' if i % 2 else 'false'}\ndebug = false\n"
        f'tags = ["t{i % 3}", "zone-{i % 5}"]\nversion = {version}\n'
    )


def layered_document(i: int, version: int = 0) -> str:
    """The same tenant as a layer of a layered folder: a table of its own under ``tenants``."""
    return f"[tenants.tenant{i:05}]\n{document(i, version)}"


def make_tree(folder: Path, count: int, layered: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    make = layered_document if layered else document
    for i in range(count):
        (folder / f"tenant{i:05}.toml").write_text(make(i))


def source(folder: Path, layered: bool = False) -> trioconf.Directory:
    if layered:
        return trioconf.Directory(folder, pattern="*.toml")
    return trioconf.Directory(folder, pattern="*.toml", key="tenants")


# --- 1. start-up ------------------------------------------------------------------------------

_PLAIN = cattrs.Converter()


def bare_load(folder: Path, layered: bool = False) -> dict[str, TenantConfig]:
    """What a program without trioconf would do: read, parse and structure every file."""
    out = {}
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as f:
            data = tomli.loads(f.read().decode())
        stem = name[:-5]
        out[stem] = _PLAIN.structure(data["tenants"][stem] if layered else data, TenantConfig)
    return out


async def trioconf_startup(folder: Path, layered: bool = False) -> float:
    t0 = time.perf_counter()
    async with trioconf.open_reloader(Config, source(folder, layered), backend="inotify") as live:
        elapsed = time.perf_counter() - t0
        assert len(live.current.tenants) == len(os.listdir(folder))
    return elapsed


async def startup(folder: Path, trials: int, layered: bool = False) -> dict[str, Any]:
    bare_load(folder, layered)  # warm-up: page cache, first-call paths
    await trioconf_startup(folder, layered)
    bare, ours = [], []
    for trial in range(trials):
        # Alternate which goes first, so drift and cache state hit both alike.
        for first in (0, 1) if trial % 2 == 0 else (1, 0):
            if first == 0:
                t0 = time.perf_counter()
                bare_load(folder, layered)
                bare.append(time.perf_counter() - t0)
            else:
                ours.append(await trioconf_startup(folder, layered))
    b, o = statistics.median(bare), statistics.median(ours)
    return {"bare_s": b, "trioconf_s": o, "ratio": o / b, "trials": trials}


# --- 2. memory --------------------------------------------------------------------------------


async def memory(folder: Path) -> dict[str, Any]:
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    objects = bare_load(folder)
    gc.collect()
    alone = tracemalloc.get_traced_memory()[0] - base
    del objects
    gc.collect()
    tracemalloc.stop()

    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    async with trioconf.open_reloader(Config, source(folder), backend="inotify") as live:
        gc.collect()
        kept, peak = tracemalloc.get_traced_memory()
        assert live.current.tenants
    tracemalloc.stop()
    kept -= base
    peak -= base
    rss = {kind: _rss_child(kind, folder) for kind in ("bare", "trioconf")}
    return {
        "objects_bytes": alone,
        "kept_bytes": kept,
        "peak_bytes": peak,
        "ratio": kept / alone,
        "rss_bare_bytes": rss["bare"],
        "rss_trioconf_bytes": rss["trioconf"],
    }


async def memory_after_changes(folder: Path, saves: int) -> dict[str, Any]:
    """What the reloader keeps after ``saves`` one-file saves, default settings throughout.

    Every tenth save is a half-written file (its first lines: a valid TOML prefix missing
    required fields), rejected; the next save writes that file whole, so the last save leaves
    every file whole. The baseline is the structured objects of the folder as it is then.
    """
    count = len(os.listdir(folder))
    rng = random.Random(saves)
    version = next(_VERSIONS) * 1_000_000
    failures = 0
    # The updater warns about each rejected save; a hundred lines of it say nothing here.
    log = logging.getLogger("trioconf")
    level = log.level
    log.setLevel(logging.ERROR)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        async with trioconf.open_reloader(Config, source(folder)) as live:
            for k in range(saves):
                if k % 10 != 9:  # the save after a rejected one (k % 10 == 8) fixes that file
                    i = rng.randrange(count)
                    stem = f"tenant{i:05}"
                version += 1
                path = folder / f"{stem}.toml"
                if k % 10 == 8:
                    records = live.records()
                    path.write_text("".join(document(i, version).splitlines(True)[:4]))
                    async for record in records:
                        if isinstance(record, trioconf.Failure):
                            failures += 1
                            break
                    continue
                write_atomic(path, document(i, version))
                await live.wait_value(lambda c, s=stem, v=version: c.tenants[s].version == v)
            gc.collect()
            kept, peak = tracemalloc.get_traced_memory()
            records_kept = len(live.history)
    finally:
        tracemalloc.stop()
        log.setLevel(level)
    gc.collect()
    tracemalloc.start()
    base_objects = tracemalloc.get_traced_memory()[0]
    objects = bare_load(folder)
    gc.collect()
    alone = tracemalloc.get_traced_memory()[0] - base_objects
    del objects
    tracemalloc.stop()
    return {
        "saves": saves,
        "failures": failures,
        "records": records_kept,
        "objects_bytes": alone,
        "kept_bytes": kept - base,
        "peak_bytes": peak - base,
        "ratio": (kept - base) / alone,
    }


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _rss_child(kind: str, folder: Path) -> int:
    out = subprocess.run(
        [sys.executable, "-m", "bench.directory", "--rss-child", kind, str(folder)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return int(out.stdout.strip().splitlines()[-1])


def rss_child(kind: str, folder: Path) -> None:
    """In a fresh process: RSS growth from loading the folder (bare) or opening a reloader."""
    gc.collect()
    before = _rss()
    if kind == "bare":
        kept = bare_load(folder)
        gc.collect()
        print(_rss() - before)
        del kept
        return

    async def main() -> None:
        async with trioconf.open_reloader(Config, source(folder), backend="inotify"):
            gc.collect()
            print(_rss() - before)

    trio.run(main)


# --- 3. one-file change latency -------------------------------------------------------------


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


async def _block_dir(
    folder: Path, count: int, n: int, version: int, rng: random.Random, layered: bool
) -> tuple[list[float], int]:
    samples = []
    make = layered_document if layered else document
    async with trioconf.open_reloader(
        Config, source(folder, layered), debounce=0, backend="inotify"
    ) as live:
        for k in range(n + 3):  # the first 3 are warm-up
            i = rng.randrange(count)
            stem = f"tenant{i:05}"
            version += 1
            write_atomic(folder / f"{stem}.toml", make(i, version))
            t0 = time.perf_counter()
            await live.wait_value(lambda c, s=stem, v=version: c.tenants[s].version == v)
            if k >= 3:
                samples.append(time.perf_counter() - t0)
            await trio.sleep(0.002)
    return samples, version


async def _block_file(path: Path, n: int, version: int) -> tuple[list[float], int]:
    samples = []
    # The single-file case: one File holding one tenant document, of the same class.
    async with trioconf.open_reloader(TenantConfig, path, debounce=0, backend="inotify") as live:
        for k in range(n + 3):
            version += 1
            write_atomic(path, document(7, version))
            t0 = time.perf_counter()
            await live.wait_value(lambda c, v=version: c.version == v)
            if k >= 3:
                samples.append(time.perf_counter() - t0)
            await trio.sleep(0.002)
    return samples, version


async def latency(
    folder: Path, count: int, single: Path, samples: int, layered: bool = False
) -> dict[str, Any]:
    rng = random.Random(count)
    ours: list[float] = []
    one: list[float] = []
    # Versions never repeat within a run: a file may already hold a version written earlier.
    version = next(_VERSIONS) * 1_000_000
    block = 50
    while len(ours) < samples or len(one) < samples:
        got, version = await _block_dir(
            folder, count, min(block, samples - len(ours)), version, rng, layered
        )
        ours += got
        got, version = await _block_file(single, min(block, samples - len(one)), version)
        one += got
    return {
        "directory_p50_s": quantile(ours, 0.5),
        "directory_p99_s": quantile(ours, 0.99),
        "file_p50_s": quantile(one, 0.5),
        "file_p99_s": quantile(one, 0.99),
        "ratio_p50": quantile(ours, 0.5) / quantile(one, 0.5),
        "ratio_p99": quantile(ours, 0.99) / quantile(one, 0.99),
        "samples": len(ours),
    }


_VERSIONS = itertools.count(1)


def quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


# --- 4. idle CPU ------------------------------------------------------------------------------


async def idle_cpu(folder: Path, seconds: float) -> dict[str, Any]:
    used = {}
    for backend in ("inotify", "poll"):
        async with trioconf.open_reloader(Config, source(folder), backend=backend):
            await trio.sleep(1.5)  # past the first poll round's start-up effects
            t0 = time.process_time()
            await trio.sleep(seconds)
            used[backend] = time.process_time() - t0
    return {
        "seconds": seconds,
        "inotify_cpu_s": used["inotify"],
        "poll_cpu_s": used["poll"],
        "poll_interval_s": 1.0,
        "ratio": used["inotify"] / used["poll"] if used["poll"] else 0.0,
    }


# --- the run ----------------------------------------------------------------------------------


async def _run(quick: bool, root: Path, progress: Callable[[str], None]) -> dict[str, Any]:
    big = 10_000
    counts = [100, 1000] if quick else [100, 1000, 10_000]
    # Start-up trials are cheap and the shared machine's noise is not: many of them.
    trials = 3 if quick else 11
    samples = 60 if quick else 300
    scale_samples = 30 if quick else 100
    idle = 3.0 if quick else 10.0
    folders = {}
    for n in sorted({*counts, big}):
        folders[n] = root / f"d{n}"
        make_tree(folders[n], n)
    single = root / "single.toml"
    single.write_text(document(7))
    results: dict[str, Any] = {"files": big, "fields_per_file": 10}
    progress(f"  directory: start-up with {big} files, {trials} trials")
    results["startup"] = await startup(folders[big], trials)
    progress("  directory: memory")
    results["memory"] = await memory(folders[big])
    saves = 200 if quick else 1000
    progress(f"  directory: memory after {saves} one-file saves, default settings")
    results["memory_after"] = await memory_after_changes(folders[big], saves)
    progress(f"  directory: one-file latency, {samples} samples")
    results["latency"] = await latency(folders[big], big, single, samples)
    progress(f"  directory: idle CPU, {idle:g} s per backend")
    results["idle_cpu"] = await idle_cpu(folders[big], idle)
    scaling = {}
    for n in counts:
        progress(f"  directory: scaling, {n} files")
        scaling[str(n)] = {
            "startup": await startup(folders[n], 3 if quick else 7),
            "latency": await latency(folders[n], n, single, scale_samples),
        }
    results["scaling"] = scaling
    # The layered mode: each file a layer holding its own [tenants.<name>] table.
    layered_folder = root / "layered"
    make_tree(layered_folder, big, layered=True)
    progress(f"  directory (layered): start-up with {big} files, {trials} trials")
    layered_startup = await startup(layered_folder, trials, layered=True)
    progress(f"  directory (layered): one-file latency, {samples} samples")
    layered_latency = await latency(layered_folder, big, single, samples, layered=True)
    results["layered"] = {"startup": layered_startup, "latency": layered_latency}
    results["targets"] = {
        "layered_startup": layered_startup["ratio"] <= TARGETS["startup"],
        "layered_latency": layered_latency["ratio_p50"] <= TARGETS["latency"],
        "startup": results["startup"]["ratio"] <= TARGETS["startup"],
        "memory": results["memory"]["ratio"] <= TARGETS["memory"],
        "memory_after": results["memory_after"]["ratio"] <= TARGETS["memory_after"],
        "latency": results["latency"]["ratio_p50"] <= TARGETS["latency"],
        "idle_cpu": results["idle_cpu"]["ratio"] <= TARGETS["idle_cpu"],
    }
    return results


def run(quick: bool, progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Every figure of this benchmark, measured in one run (a temporary tree of files)."""
    with tempfile.TemporaryDirectory(prefix="trioconf-dir-bench-") as root:
        return trio.run(_run, quick, Path(root), progress)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def _mb(size: float) -> str:
    return f"{size / 1e6:.1f} MB"


def table(results: dict[str, Any]) -> str:
    """The figures as a Markdown table: measured, baseline, ratio, target, and whether it holds."""
    s, m, lat, cpu = (results[k] for k in ("startup", "memory", "latency", "idle_cpu"))
    a = results["memory_after"]
    ok = results["targets"]
    files = results["files"]

    def held(key: str) -> str:
        return "yes" if ok[key] else "**no**"

    rows = [
        "| figure | trioconf | baseline | ratio | target | holds |",
        "|---|---|---|---|---|---|",
        f"| start-up, {files} files (median of {s['trials']}) | {_ms(s['trioconf_s'])} "
        f"| {_ms(s['bare_s'])} bare read+tomli+cattrs loop | {s['ratio']:.2f}× | ≤ 1.5× "
        f"| {held('startup')} |",
        f"| memory kept (tracemalloc) | {_mb(m['kept_bytes'])} (peak {_mb(m['peak_bytes'])}) "
        f"| {_mb(m['objects_bytes'])} structured objects alone | {m['ratio']:.2f}× | ≤ 2× "
        f"| {held('memory')} |",
        f"| memory kept after {a['saves']:,} one-file saves, {a['failures']} rejected "
        f"| {_mb(a['kept_bytes'])} (peak {_mb(a['peak_bytes'])}) "
        f"| {_mb(a['objects_bytes'])} structured objects alone | {a['ratio']:.2f}× | ≤ 2× "
        f"| {held('memory_after')} |",
        f"| RSS growth (fresh process) | {_mb(m['rss_trioconf_bytes'])} "
        f"| {_mb(m['rss_bare_bytes'])} bare loop | "
        f"{m['rss_trioconf_bytes'] / max(m['rss_bare_bytes'], 1):.2f}× | (reported) | |",
        f"| one-file change p50 ({lat['samples']} samples) | {_ms(lat['directory_p50_s'])} "
        f"| {_ms(lat['file_p50_s'])} one File | {lat['ratio_p50']:.2f}× | ≤ 2× "
        f"| {held('latency')} |",
        f"| one-file change p99 | {_ms(lat['directory_p99_s'])} | {_ms(lat['file_p99_s'])} "
        f"| {lat['ratio_p99']:.2f}× | (reported) | |",
        f"| idle CPU over {cpu['seconds']:g} s | {cpu['inotify_cpu_s'] * 1000:.1f} ms inotify "
        f"| {cpu['poll_cpu_s'] * 1000:.1f} ms poll every {cpu['poll_interval_s']:g} s "
        f"| {cpu['ratio'] * 100:.2f} % | ≤ 1 % | {held('idle_cpu')} |",
    ]
    if "layered" in results:
        ls, ll = results["layered"]["startup"], results["layered"]["latency"]
        rows += [
            f"| layered: start-up, {files} files (median of {ls['trials']}) "
            f"| {_ms(ls['trioconf_s'])} | {_ms(ls['bare_s'])} bare loop | {ls['ratio']:.2f}× "
            f"| ≤ 1.5× | {held('layered_startup')} |",
            f"| layered: one-file change p50 ({ll['samples']} samples) "
            f"| {_ms(ll['directory_p50_s'])} | {_ms(ll['file_p50_s'])} one File "
            f"| {ll['ratio_p50']:.2f}× | ≤ 2× | {held('layered_latency')} |",
            f"| layered: one-file change p99 | {_ms(ll['directory_p99_s'])} "
            f"| {_ms(ll['file_p99_s'])} | {ll['ratio_p99']:.2f}× | (reported) | |",
        ]
    rows += [
        "",
        "| files | start-up | bare loop | ratio | one-file p50 | one File p50 | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for n, row in results["scaling"].items():
        st, la = row["startup"], row["latency"]
        rows.append(
            f"| {int(n):,} | {_ms(st['trioconf_s'])} | {_ms(st['bare_s'])} | {st['ratio']:.2f}× "
            f"| {_ms(la['directory_p50_s'])} | {_ms(la['file_p50_s'])} | {la['ratio_p50']:.2f}× |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.directory", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer trials and samples")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--rss-child", nargs=2, metavar=("KIND", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child[0], Path(args.rss_child[1]))
        return
    results = run(args.quick)
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
