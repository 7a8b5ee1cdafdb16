"""``locate``: where in a file's text the value at a key path is written.

Only called when an error must be reported, so it may be slower than ``parse``, and it never
raises: it decodes the bytes and hands the text to the format's own position finder.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence

from .._sources import Format
from ._json import _json_locate
from ._position import _position
from ._toml_locate import _toml_locate
from ._yaml_locate import _yaml_locate


def locate(raw: bytes, fmt: Format, path: Sequence[str | int]) -> tuple[int, int] | None:
    """1-based (line, column) where the value at ``path`` is written, or None.

    Mapping entries are located at their key, sequence items at the item. Only called when an
    error must be reported, so it may be slower than ``parse``; it never raises.
    """
    try:
        if raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        return _locate_text(raw.decode("utf-8"), fmt, path)
    except Exception:
        return None


def _locate_text(text: str, fmt: Format, path: Sequence[str | int]) -> tuple[int, int] | None:
    try:
        target = tuple(path)
        if fmt == "json":
            return _json_locate(text, target)
        if fmt == "toml":
            offset = _toml_locate(text, target)
            return None if offset is None else _position(text, offset)
        if fmt == "yaml":
            return _yaml_locate(text, target)
    except Exception:  # RecursionError included: a position is a courtesy, never a failure
        return None
    return None
