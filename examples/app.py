"""A small Trio service whose configuration reloads while it runs.

Run it from the repository root (after ``python3 -m pip install .``)::

    python3 examples/app.py [CONFIG]

CONFIG defaults to ``examples/app.toml`` next to this file. Then, in another terminal, edit that
file and save it:

- change ``port = 8080`` to ``port = 8081``: the app prints ``v2: server.port`` and "restarts"
  its listener on the new port;
- write ``port = "eighty"``: the change is rejected with the file, line and field, and the app
  keeps running on the last good configuration;
- write ``port = 80``: valid TOML of the right type, but this app's ``validate`` rejects ports
  below 1024;
- set ``DEMO_GREETING=hi`` in the environment before starting: environment variables with the
  ``DEMO_`` prefix override the file.

Ctrl-C stops it.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import trio

import trioconf


@attrs.frozen
class Server:
    host: str = "127.0.0.1"
    port: int = 8080


@attrs.frozen
class AppConfig:
    greeting: str = "hello"
    server: Server = attrs.Factory(Server)


def validate(new: AppConfig, old: AppConfig | None) -> None:
    """Checks that types alone cannot express; raising rejects the new snapshot."""
    if new.server.port < 1024:
        msg = f"server.port {new.server.port}: ports below 1024 are reserved"
        raise ValueError(msg)


async def serve(live: trioconf.Live[AppConfig]) -> None:
    # The view wakes only when the server section changes, not on every edit of the file.
    with live.open_view(lambda config: config.server) as server:
        async for settings in server.updates():
            say(f"   listening on {settings.host}:{settings.port}")


async def report(records: AsyncIterator[trioconf.Update[AppConfig] | trioconf.Failure]) -> None:
    async for record in records:
        if isinstance(record, trioconf.Failure):
            say(f"   rejected, still on v{record.version}: {record.error}")
        else:
            say(f"v{record.version}: {', '.join(sorted(record.changed))} changed")
            say(f"   {record.config.greeting}! config is now {record.config}")


async def main(path: Path) -> None:
    # Ctrl-C arrives as a message to this task instead of a KeyboardInterrupt in any task.
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trioconf.open_reloader(
            AppConfig, path, env_prefix="DEMO_", validate=validate
        ) as live:
            # Subscribed before anything can change, so no record falls between the lines.
            records = live.records()
            say(f"v{live.version}: {live.current.greeting}! started with {live.current}")
            say(f"   edit {path} and save it; Ctrl-C stops")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(report, records)
                nursery.start_soon(serve, live)
                async for _ in signals:
                    say("stopping")
                    nursery.cancel_scope.cancel()


def say(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    default = Path(__file__).with_name("app.toml")
    config_path = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    try:
        trio.run(main, config_path)
    except trioconf.ConfigError as exc:
        sys.exit(f"cannot start: {exc}")
