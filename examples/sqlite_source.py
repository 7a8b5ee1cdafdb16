"""A trioconf.Source of your own: settings kept in a SQLite table, reloaded when a row changes.

The table holds one row per setting: ``key`` a dotted field path (``db.port``), ``value`` the
value as JSON. Any process may change it; this source notices within ``poll`` seconds through
SQLite's ``PRAGMA data_version`` (which changes when another connection commits) and trioconf
reads, merges, validates and swaps in the new snapshot like any file's.

Run it: ``python examples/sqlite_source.py``, then in another terminal
``sqlite3 settings.db "UPDATE settings SET value = '20' WHERE key = 'rate_limit'"``.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Hashable, Mapping
from typing import Any

import attrs
import trio

import trioconf


class SqliteSettings(trioconf.Source):
    def __init__(self, path: str, *, poll: float = 0.5) -> None:
        self.path = path
        self.poll = poll
        self.name = f"sqlite {path}"

    async def run(
        self,
        notify: trioconf.Notify,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        # SQLite calls block: each goes to a worker thread, never onto the event loop.
        db = await trio.to_thread.run_sync(_connect, self.path)
        try:
            seen = await trio.to_thread.run_sync(_data_version, db)
            task_status.started()  # watching: trioconf now reads for the first time
            while True:
                await trio.sleep(self.poll)
                now = await trio.to_thread.run_sync(_data_version, db)
                if now != seen:
                    seen = now
                    await notify(now)
        finally:
            db.close()

    async def read(self, changes: frozenset[Hashable] | None) -> Mapping[str, Any]:
        # Whatever the changes were, the table is small: read all of it.
        return await trio.to_thread.run_sync(self._read)

    def _read(self) -> dict[str, Any]:
        with contextlib.closing(_connect(self.path)) as db:
            rows = db.execute("SELECT key, value FROM settings ORDER BY key").fetchall()
        data: dict[str, Any] = {}
        for key, value in rows:
            *parents, leaf = key.split(".")
            node = data
            for part in parents:
                node = node.setdefault(part, {})
            try:
                node[leaf] = json.loads(value)
            except json.JSONDecodeError as exc:
                # Said as a ConfigError, it reads like a file's: source, key, what is wrong.
                raise trioconf.SourceError(self.name, f"{key}: not JSON: {exc}") from None
        return data

    def origin(self, path: tuple[str, ...]) -> str:
        return f"{self.name} (key {'.'.join(path)})"


def _connect(path: str) -> sqlite3.Connection:
    # Used from trio's worker threads, which are not always the one that opened it.
    return sqlite3.connect(path, check_same_thread=False)


def _data_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA data_version").fetchone()[0])


@attrs.frozen
class Config:
    name: str = "demo"
    rate_limit: int = 10


def create(path: str) -> None:
    """A settings table with one row, unless it exists."""
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT)")
        db.execute("INSERT OR IGNORE INTO settings VALUES ('rate_limit', '10')")


async def main() -> None:
    create("settings.db")
    async with trioconf.open_reloader(Config, SqliteSettings("settings.db")) as live:
        print("rate_limit:", live.current.rate_limit, "from", live.origin("rate_limit"))
        async for config in live.updates():
            print(f"version {live.version}: rate_limit = {config.rate_limit}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        trio.run(main)
