"""The benchmark suite: ``python -m bench [--quick] [--only latency,stages,bursts,...]
[--no-write]``.

Runs the latency, latency breakdown (stages), burst, directory, read path and parse benchmarks,
prints
their tables, and (unless ``--no-write``) writes bench/results.json, docs/performance.md and its
figures in docs/_static/.
``--quick`` is a smoke run (about a minute) with too few samples to quote. ``nox -s bench``
installs the contenders (watchfiles, watchdog, pydantic) and matplotlib and runs this.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from . import bursts, directory, latency, parse, readpath, report, stages

PARTS = ("latency", "stages", "bursts", "directory", "readpath", "parse")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run, about a minute")
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated parts")
    parser.add_argument("--samples", type=int, help="samples per fast latency cell")
    parser.add_argument("--defaults-samples", type=int, help="samples per defaults cell")
    parser.add_argument("--trials", type=int, help="burst trials (per write mode)")
    parser.add_argument("--no-write", action="store_true", help="print only, write no files")
    args = parser.parse_args(argv)
    parts = [p for p in args.only.split(",") if p]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {PARTS}")

    started = time.monotonic()
    results: dict[str, Any] = {"mode": "quick" if args.quick else "full"}
    results["machine"] = report.machine()
    if "latency" in parts:
        fast_n = args.samples or (30 if args.quick else 1000)
        slow_n = args.defaults_samples or (12 if args.quick else 1000)
        results["latency"] = run_latency(fast_n, slow_n, quick=args.quick)
    if "stages" in parts:
        print("where a save's time goes ...", flush=True)
        n = 50 if args.quick else 1000
        results["stages"] = {mode: stages.run(n, mode) for mode in report.MODES}
    if "bursts" in parts:
        print("bursts of 1,000 saves, default debounce ...", flush=True)
        results["bursts"] = bursts.run(args.quick, args.trials)
    if "directory" in parts:
        print("a directory of 10,000 files ...", flush=True)
        results["directory"] = directory.run(args.quick)
    if "readpath" in parts:
        print("read path ...", flush=True)
        results["readpath"] = readpath.run(args.quick)
    if "parse" in parts:
        print("parse and structure ...", flush=True)
        results["parse"] = parse.run(args.quick)
    results["seconds"] = round(time.monotonic() - started, 1)
    report.print_tables(results)
    print(f"\n{results['seconds']} s")
    if args.no_write:
        return
    command = "python -m bench" + (" " + shlex.join(argv if argv is not None else sys.argv[1:]))
    report.write_json(results)
    figures = {
        "latency": "latency" in results and report.figure(results),
        "directory": report.directory_figure(results),
    }
    report.write_doc(results, command.strip(), figures)
    written = [report.RESULTS, report.DOC]
    written += [report.FIGURE] if figures["latency"] else []
    written += [report.DIRECTORY_FIGURE] if figures["directory"] else []
    print("wrote " + ", ".join(map(str, written)))


def run_latency(fast_n: int, slow_n: int, quick: bool) -> dict[str, Any]:
    modes = list(report.MODES)
    rest_fast = 0.002
    cells: dict[str, Any] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        print(
            f"latency, debounce 0: {len(latency.FAST)} contenders x {len(modes)} modes", flush=True
        )
        fast = trio.run(
            latency.measure,
            latency.FAST,
            modes,
            fast_n,
            15 if quick else 100,
            rest_fast,
            Path(tmp),
        )
        for (name, mode), samples in fast.items():
            cells[f"{name} | {mode}"] = {"how": latency.FAST[name][1], "samples": samples}
    fast_seconds = time.monotonic() - started
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        print("latency, defaults against defaults", flush=True)
        slow = trio.run(
            latency.measure,
            latency.DEFAULTS,
            modes,
            slow_n,
            12 if quick else 200,
            rest_fast,
            Path(tmp),
            print,
            1,
            latency.DEFAULTS_FILES,
            latency.DEFAULTS_REST,
            latency.DEFAULTS_JITTER,
        )
        for (name, mode), samples in slow.items():
            cells[f"{name} | {mode}"] = {
                "how": latency.DEFAULTS[name][1],
                "samples": samples,
                "defaults": True,
            }
    slow_seconds = time.monotonic() - started
    print(f"  latency took {fast_seconds:.0f} s (debounce 0), {slow_seconds:.0f} s (defaults)")
    return {
        "seconds_fast": round(fast_seconds, 1),
        "seconds_defaults": round(slow_seconds, 1),
        "poll_interval": latency.POLL_INTERVAL,
        "rest_fast": rest_fast,
        "rest_defaults": latency.DEFAULTS_REST,
        "files_defaults": latency.DEFAULTS_FILES,
        "jitter_defaults": latency.DEFAULTS_JITTER,
        "cells": cells,
    }


if __name__ == "__main__":
    main()
