"""One file's read and parse: the job that runs inline for a small file and in a worker process
for a large one, for ``File`` sources and the files of ``Directory`` sources alike.

Both kinds of source read the same way (``read_guarded``): optimistically first, inline and
without any lock; then, when that read stopped short (the file is large, or a cooperating
writer's sidecar lock stands beside it), under the writer's shared lock, inline or in a worker.

A large file is read *and* parsed in the worker: its size is taken from the open descriptor
before a byte is read, so the event loop never copies megabytes that it would then only pass
on. What comes back from a worker is the job's result or a ``ConfigError`` naming the file.
The ways a worker can fail, found by trying them (tests in ``tests/test_load.py``):

- the job's own errors cross back pickled: a ``SourceError`` or ``ParseError`` as it was raised;
- the file outgrows the memory the worker has (reading it, or pickling the result back):
  ``MemoryError``, from the worker or while the parent unpickles;
- the worker dies (the OOM killer, a crash in a C parser): ``BrokenWorkerError``;
- the parse outlasts ``parse_timeout``: the worker is killed (``TooSlowError`` here);
- no worker can start (no file descriptors or processes left): ``OSError`` from the pool.

All of these are problems of that file or of the machine, not of trioconf: they become that
file's ``SourceError``, the last good snapshot stays, and its next change tries again. Anything
else (a ``TypeError`` from a result that cannot be pickled, a ``RecursionError``: the parse
bounds nesting, so neither can come from a document) is a trioconf bug and propagates.
"""

from __future__ import annotations

import enum
import functools
import multiprocessing
from pathlib import Path
from typing import Any

import trio
import trio_parallel

from ._errors import ConfigError, SourceError
from ._formats import NotInline, parse
from ._read import read_unless_larger
from ._sidecar import has_sidecar, shared_lock_if_present
from ._sources import Format

Payload = dict[str, Any] | ConfigError | None
# What a read and parse gives: the digest of the bytes, the payload (see ``read_and_parse``) and
# the raw bytes, kept to locate field errors.
Parsed = tuple[bytes, Payload, bytes]


class Deferred(enum.Enum):
    """Why an inline read stopped short of parsing: the caller reads the file another way."""

    LARGE = "larger than the format's inline limit: parse it in a worker process"
    LOCKED = "a cooperating writer's sidecar lock exists: read under its shared lock"


def read_and_parse(
    path: Path,
    fmt: Format,
    name: str,
    allow_nan: bool,
    max_size: int,
    known: bytes | None,
    limit: int | None = None,
    probe: bool = False,
) -> Parsed | Deferred:
    """Read and parse one file.

    Returns the digest, the payload (the data; the ParseError; ``None`` when the digest equals
    ``known``, i.e. the bytes did not change) and the raw bytes, kept to locate field errors.
    Top-level and picklable, so a worker process can run it for large files. Read errors
    raise: there is no digest to remember for them.

    With a ``limit`` it parses nothing and returns ``Deferred.LARGE`` for a file larger than
    that; with ``probe`` (the loader's optimistic read, taken without any lock) it returns
    ``Deferred.LOCKED`` when a writer's sidecar lock stands beside the file it read.
    """
    content = read_unless_larger(path, max_size if limit is None else limit, max_size, real=probe)
    if content is None:
        return Deferred.LARGE
    # Looked for after the read, beside the file really read (no separate resolve of the
    # path): a writer that started during the read is seen too, and its write read again.
    if probe and (content.real is None or has_sidecar(content.real)):
        return Deferred.LOCKED
    if content.digest == known:
        return content.digest, None, content.raw
    try:
        data: Payload = parse(content.raw, fmt, name, allow_nan, inline=limit is not None)
    except NotInline:
        return Deferred.LARGE
    except ConfigError as exc:
        data = exc
    return content.digest, data, content.raw


async def read_and_parse_in_worker(
    path: Path,
    fmt: Format,
    name: str,
    allow_nan: bool,
    max_size: int,
    known: bytes | None,
    parse_timeout: float,
) -> Parsed:
    """``read_and_parse`` in a trio-parallel worker process, killed after ``parse_timeout``
    seconds or on cancellation. Raises the file's ``ConfigError`` (see the module doc)."""
    job = functools.partial(read_and_parse, path, fmt, name, allow_nan, max_size, known)
    try:
        with trio.fail_after(parse_timeout):
            result: Parsed | Deferred = await trio_parallel.run_sync(job, kill_on_cancel=True)
    except trio.TooSlowError:
        failure = f"reading and parsing took longer than {parse_timeout} s; the worker was stopped"
    except trio_parallel.BrokenWorkerError:
        # trio-parallel does not join a worker that died under it; multiprocessing would
        # keep it as a zombie, with its pipes open, until the next worker starts.
        multiprocessing.active_children()
        failure = "the worker process parsing it died unexpectedly"
    except MemoryError:
        failure = "too large for the memory the worker process parsing it has"
    except OSError as exc:
        # Raised by the pool, not the job (which turns its own OSErrors into SourceErrors).
        failure = f"no worker process could start to parse it ({exc})"
    else:
        assert not isinstance(result, Deferred)  # no limit given: always parsed
        return result
    # Raised out here, with no __context__: the error is kept (last_error, history), and the
    # failure's traceback would keep the dead worker's pipes open with it.
    raise SourceError(name, failure)


async def read_guarded(
    path: Path,
    fmt: Format,
    name: str,
    allow_nan: bool,
    max_size: int,
    known: bytes | None,
    *,
    limit: int,
    parse_timeout: float,
    lock_timeout: float,
) -> tuple[Parsed, bool]:
    """The slow read, after an optimistic one stopped short: under a cooperating writer's
    shared lock (when its sidecar exists), inline when the file is within ``limit``, else
    read and parsed in a worker process, the lock held across. Returns the parse and whether
    a worker made it (the caller then keeps its own further work off the event loop too).

    Raises the file's ``ConfigError``: unreadable, a lock wait past ``lock_timeout``
    (``LockTimeout``), or a worker that failed (see the module doc)."""
    async with shared_lock_if_present(path, lock_timeout):
        result = read_and_parse(path, fmt, name, allow_nan, max_size, known, limit)
        if not isinstance(result, Deferred):
            return result, False
        job = (path, fmt, name, allow_nan, max_size, known, parse_timeout)
        return await read_and_parse_in_worker(*job), True
