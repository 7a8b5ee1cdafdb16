"""TOML: ``tomli`` with its error position turned into a ``ParseError``.

tomli does all the work; what is left is reading the line and column out of its exception,
which older tomli versions only put in the message text.
"""

from __future__ import annotations

import re
from typing import Any

import tomli

from .._errors import ParseError

_TOML_AT = re.compile(r"\s*\((?:at line (\d+), column (\d+)|at end of document)\)\s*$")


def _parse_toml(text: str, source: str) -> Any:
    try:
        return tomli.loads(text)
    except tomli.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_AT.search(message)
        reason = getattr(exc, "msg", None) or (message[: found.start()] if found else message)
        line: int | None = getattr(exc, "lineno", None)
        column: int | None = getattr(exc, "colno", None)
        if line is None and found and found.group(1):  # tomli < 2.1
            line, column = int(found.group(1)), int(found.group(2))
        error = ParseError(source, reason, line=line, column=column)
    # Raised out here, without tomli's error as its context: that one keeps the whole
    # document (``doc``), secrets included, for as long as the error is kept in the history.
    raise error
