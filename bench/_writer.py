"""The burst writer: a child process that saves a file ``count`` times, ``interval`` apart.

Run by bench/bursts.py as ``python -m bench._writer`` with a JSON job on stdin; prints a JSON
list of ``time.perf_counter()`` readings, one per save, each taken as that save finished (after
``close`` for in-place writes, after ``os.replace`` for atomic ones). Standard library only, so
the child starts fast and shares no interpreter state with the reloader it feeds.

Why a process and not a thread: a writer thread would share the GIL with the Trio loop it
measures. The loop parsing a snapshot would hold the writer back (the GIL's switch interval is
5 ms, five times the spacing wanted), and the writer would hold the loop back in return, so
both the write spacing and the staleness would measure the GIL. A process runs on the second
core. Its ``perf_counter`` reads the same system-wide CLOCK_MONOTONIC as the parent's, so the
two sides' timestamps compare directly.
"""

from __future__ import annotations

import json
import os
import sys
import time


def burst(
    path: str, mode: str, template: str, first: int, count: int, interval: float
) -> list[float]:
    """Save ``template`` with ``%SEQ%`` = first, first+1, ...; return each save's end time.

    Saves are paced against a schedule (save i starts at start + i * interval), so a slow save
    does not push every later one back; a save that is late starts at once.
    """
    tmp = os.path.join(os.path.dirname(path), ".tmp-" + os.path.basename(path))
    done = []
    start = time.perf_counter()
    for i in range(count):
        data = template.replace("%SEQ%", str(first + i))
        if mode == "rename":
            with open(tmp, "w") as f:
                f.write(data)
            os.replace(tmp, path)
        else:
            with open(path, "w") as f:
                f.write(data)
        done.append(time.perf_counter())
        delay = start + (i + 1) * interval - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    return done


def main() -> None:
    job = json.load(sys.stdin)
    times = burst(
        job["path"], job["mode"], job["template"], job["first"], job["count"], job["interval"]
    )
    json.dump(times, sys.stdout)


if __name__ == "__main__":
    main()
