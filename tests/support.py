"""Helpers shared by the test modules, importable as ``support`` (tests/ is on sys.path)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import trio

# Generous: the machine has two noisy cores. Waits end as soon as their condition holds.
PATIENCE = 15.0


def write_atomic(path: Path, text: str) -> None:
    """What editors and deploy tools do: write a temp file beside it, rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


async def wait_until(condition: Callable[[], bool]) -> None:
    """For conditions no trioconf wait can express (counters, errors): look every 10 ms."""
    with trio.fail_after(PATIENCE):
        while not condition():  # noqa: ASYNC110 (no event to wait on for a counter)
            await trio.sleep(0.01)


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))
