"""The reload hot path in isolation: merge and structure the latency benchmark's ~30-line config.

A reload that changes one file parses it, merges every layer (``merge``) and structures the
result (``structure``); the parser's cost is ``bench.parse``'s. This times the other two, with
plain cattrs (``cattrs.Converter().structure``, what the latency benchmark's floor runs) as the
reference, and the strict converter's detailed pass alone: what every reload cost before the
fast pass, and still what a bad document costs on top of it.

Run: ``python -m bench.hotpath [--repeat N]``. µs per call: the fastest of ``repeat``
timeit runs.
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable

import cattrs
import tomli

from trioconf._converter import make_converter
from trioconf._layer import Layer
from trioconf._merge import merge
from trioconf._structure import structure

from . import latency


def run(repeat: int = 15) -> dict[str, float]:
    """Microseconds per call, by what was timed."""
    doc = tomli.loads(latency.document(1))
    # What a reloader merges: the class defaults (empty here) under the file.
    layers = [Layer("defaults", {}), Layer("config.toml", doc)]
    merged = merge(layers)
    plain = cattrs.Converter()
    strict = make_converter()
    cls = latency.Config
    assert structure(strict, cls, merged) == plain.structure(doc, cls)

    stmts: dict[str, Callable[[], object]] = {
        "plain cattrs structure": lambda: plain.structure(doc, cls),
        "trioconf structure": lambda: structure(strict, cls, merged),
        "trioconf structure, detailed pass only": lambda: strict.structure_detailed(
            merged.data, cls
        ),
        "trioconf merge": lambda: merge(layers),
        "trioconf merge + structure": lambda: structure(strict, cls, merge(layers)),
    }
    return time_all(stmts, repeat)


def time_all(stmts: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """µs per call of each statement: the fastest of ``repeat`` rounds.

    The fastest, not the median: these take a few µs, and on a shared machine the slower runs
    mostly measure its other work. Round-robin, so a noisy stretch slows every statement
    alike instead of one of them.
    """
    timers = {name: timeit.Timer(stmt) for name, stmt in stmts.items()}
    numbers = {name: timer.autorange()[0] for name, timer in timers.items()}
    best = dict.fromkeys(stmts, float("inf"))
    for _ in range(repeat):
        for name, timer in timers.items():
            best[name] = min(best[name], timer.timeit(numbers[name]) / numbers[name])
    return {name: seconds * 1e6 for name, seconds in best.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    results = run(args.repeat)
    floor = results["plain cattrs structure"]
    for name, us in results.items():
        print(f"{name:40} {us:6.2f} µs  {us / floor:4.2f}x plain cattrs")


if __name__ == "__main__":
    main()
