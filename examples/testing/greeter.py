"""The service under test: a TCP greeter whose greeting comes from a live configuration."""

from __future__ import annotations

import attrs
import trio

import trioconf


@attrs.frozen
class Config:
    greeting: str = "hello"


def validate(new: Config, old: Config | None) -> None:
    if not new.greeting:
        msg = "greeting must not be empty"
        raise ValueError(msg)


async def greet(view: trioconf.View[str], stream: trio.abc.Stream) -> None:
    """Send the greeting current when the client connected, then close."""
    await stream.send_all(f"{view.current}!\n".encode())
    await stream.aclose()
