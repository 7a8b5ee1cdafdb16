"""How long the event loop went without a checkpoint: the longest single task step.

Trio is cooperative: while one task runs between two checkpoints, no other task runs, so the
longest task step is how long the application could not answer anything. ``Checkpoints`` is a
Trio instrument that times every step of every task (``before_task_step`` → ``after_task_step``)
and keeps the longest, with the task's name, so a test can bound it::

    with Checkpoints() as gaps:
        ...  # make the reloader process something
    assert gaps.longest < 0.25, gaps

It adds itself to the running loop on entry and removes itself on exit, so it measures only
the block. Importable as ``checkpoints`` from any test (tests/ is on sys.path).
"""

from __future__ import annotations

import time
from types import TracebackType

import trio
import trio.abc


class Checkpoints(trio.abc.Instrument):
    """Records the longest task step (seconds) while the ``with`` block runs."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.longest_task = ""
        self.steps = 0
        self._started: dict[trio.lowlevel.Task, float] = {}

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self._started[task] = time.perf_counter()

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        start = self._started.pop(task, None)
        if start is None:  # the step began before the instrument was added
            return
        elapsed = time.perf_counter() - start
        self.steps += 1
        if elapsed > self.longest:
            self.longest = elapsed
            self.longest_task = task.name

    def __enter__(self) -> Checkpoints:
        trio.lowlevel.add_instrument(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        trio.lowlevel.remove_instrument(self)

    def __repr__(self) -> str:
        return (
            f"<longest task step {self.longest * 1000:.1f} ms in {self.longest_task}"
            f" over {self.steps} steps>"
        )
