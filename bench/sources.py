"""What issue 12's sources cost a reload, and what a JSON Schema costs to write.

Each latency sample rewrites ``config.toml`` in place (one ``write``, then close) and stops when a
task waiting in ``live.wait_value`` sees the snapshot carrying the new value, with
``debounce=0`` and the inotify backend, for the same file read:

- as a plain path (the baseline);
- with ``profile_var`` naming one profile, so ``config.prod.toml`` is layered after it and a
  folder pattern watches for profile files;
- as the last of three ``first_found`` locations (the two above it do not exist, their folders
  are watched too);
- beside a ``.env`` file under ``env_prefix`` and an ``overrides=`` mapping, the layers the
  rebuild merges on every change.

The cells run in blocks, interleaved, so that drift on this shared machine hits them alike.
Then ``trioconf.json_schema`` is timed on a config of about 25 fields in five classes (durations,
a secret, a keyed mapping). Standalone: ``python -m bench.sources [--samples N] [--quick]``;
prints its tables, writes nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import attrs
import trio

import trioconf

_BLOCK = 25  # samples per cell before the next cell's turn


@attrs.frozen
class Db:
    host: str = "localhost"
    port: int = 5432
    password: str = trioconf.field(default="", secret=True)


@attrs.frozen
class Config:
    n: int = 0
    name: str = "svc"
    db: Db = attrs.Factory(Db)


Setup = Callable[[Path], tuple[tuple[Any, ...], dict[str, Any]]]


def _plain(folder: Path) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return (folder / "config.toml",), {}


def _profile(folder: Path) -> tuple[tuple[Any, ...], dict[str, Any]]:
    (folder / "config.prod.toml").write_text('name = "prod"\n')
    return (folder / "config.toml",), {
        "profile_var": "APP_PROFILE",
        "environ": {"APP_PROFILE": "prod"},
    }


def _search(folder: Path) -> tuple[tuple[Any, ...], dict[str, Any]]:
    (folder / "etc").mkdir()
    search = trioconf.first_found(
        folder / "local" / "config.toml", folder / "etc" / "config.toml", folder / "config.toml"
    )
    return (search,), {}


def _dotenv_overrides(folder: Path) -> tuple[tuple[Any, ...], dict[str, Any]]:
    (folder / ".env").write_text("APP_DB__HOST=db.internal\nAPP_DB__PASSWORD=hunter2\n")
    kw = {
        "env_prefix": "APP_",
        "env_file": folder / ".env",
        "environ": {},
        "overrides": {"db.port": 5433, "name": "bench"},
    }
    return (folder / "config.toml",), kw


CELLS: dict[str, Setup] = {
    "plain file": _plain,
    "file + profile_var": _profile,
    "first_found, 3rd of 3": _search,
    "file + .env + overrides": _dotenv_overrides,
}


@contextlib.asynccontextmanager
async def _running(setup: Setup) -> AsyncIterator[tuple[Path, trioconf.Live[Config]]]:
    with tempfile.TemporaryDirectory(dir="/var/tmp") as d:
        folder = Path(d)
        path = folder / "config.toml"
        path.write_text("n = 0\n")
        sources, kw = setup(folder)
        async with trioconf.open_reloader(
            Config, *sources, debounce=0, backend="inotify", **kw
        ) as live:
            yield path, live


async def _sample(path: Path, live: trioconf.Live[Config], n: int) -> float:
    start = time.perf_counter()
    path.write_text(f"n = {n}\n")
    await live.wait_value(lambda c: c.n == n)
    return (time.perf_counter() - start) * 1e3


async def measure(samples: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {name: [] for name in CELLS}
    async with contextlib.AsyncExitStack() as stack:
        running = {name: await stack.enter_async_context(_running(s)) for name, s in CELLS.items()}
        n = 0
        while min(len(v) for v in results.values()) < samples:
            for name, (path, live) in running.items():
                for _ in range(min(_BLOCK, samples - len(results[name]))):
                    n += 1
                    results[name].append(await _sample(path, live, n))
    return results


def quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- json_schema -----------------------------------------------------------------------------


@attrs.frozen
class Limits:
    rate: int = 100
    burst: int = 20
    window: dt.timedelta = dt.timedelta(seconds=1)


@attrs.frozen
class Tenant:
    plan: str = "free"
    seats: int = 5
    limits: Limits = attrs.Factory(Limits)
    api_key: trioconf.SecretStr | None = None


@attrs.frozen
class Http:
    host: str = "0.0.0.0"
    port: int = 8080
    timeout: dt.timedelta = dt.timedelta(seconds=30)
    origins: tuple[str, ...] = ()
    limits: Limits = attrs.Factory(Limits)


@attrs.frozen
class Service:
    name: str
    http: Http = attrs.Factory(Http)
    db: Db = attrs.Factory(Db)
    tenants: dict[str, Tenant] = attrs.Factory(dict)
    debug: bool = False
    log_level: str = "info"


def time_schema(calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        start = time.perf_counter()
        trioconf.json_schema(Service)
        out.append((time.perf_counter() - start) * 1e3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sources", description=__doc__)
    parser.add_argument("--samples", type=int, default=300, help="saves per cell")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 25 saves per cell")
    args = parser.parse_args()
    samples = 25 if args.quick else args.samples
    results = trio.run(measure, samples)
    print(
        f"save -> snapshot, debounce=0, inotify ({samples} saves per cell, in blocks of {_BLOCK})"
    )
    print(f"{'cell':26} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}")
    for name, values in results.items():
        p50, p90, p99 = (quantile(values, q) for q in (0.5, 0.9, 0.99))
        print(f"{name:26} {p50:8.3f} {p90:8.3f} {p99:8.3f}")
    calls = 5 if args.quick else 50
    schema = time_schema(calls)
    print(f"json_schema(Service), {calls} calls: median {statistics.median(schema):.2f} ms")


if __name__ == "__main__":
    main()
