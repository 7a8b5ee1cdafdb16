"""What the etcd v3 JSON gateway sends, decoded: keys, values and revisions.

The gateway (etcd 3.4's grpc-gateway) writes protobuf messages as JSON: bytes are base64,
64-bit numbers (revisions) are JSON *strings*, and a field at its default value is left out (a
PUT event has no ``type``, an empty value no ``value``, revision 0 no ``revision``). Every
reader of a gateway message goes through here, so those rules live in one place.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import attrs


class WireError(Exception):
    """A message that is not what the gateway sends: the endpoint is not etcd's gateway, or
    an etcd version this code does not know."""


@attrs.frozen
class KeyValue:
    """One key as a range or an event gives it; ``value`` None: deleted (an event only)."""

    key: bytes
    value: bytes | None
    mod_revision: int


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def number(message: Mapping[str, Any], field: str) -> int:
    """A 64-bit field: a JSON string (or, from a proxy that re-encodes, a number); absent is 0."""
    raw = message.get(field, 0)
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise WireError(f"{field} is not a number: {raw!r}") from None


def _bytes(message: Mapping[str, Any], field: str) -> bytes:
    raw = message.get(field, "")
    if not isinstance(raw, str):
        raise WireError(f"{field} is not base64 text")
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError:
        raise WireError(f"{field} is not base64 text") from None


def header_revision(message: Mapping[str, Any]) -> int:
    header = message.get("header")
    return number(header, "revision") if isinstance(header, Mapping) else 0


def header_cluster(message: Mapping[str, Any]) -> str:
    """The id of the cluster that answered: a 64-bit number, kept as the text the gateway
    sends (it is only compared, never computed with)."""
    header = message.get("header")
    raw = header.get("cluster_id", "") if isinstance(header, Mapping) else ""
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        raise WireError(f"cluster_id is not a number: {raw!r}")
    return str(raw)


def key_value(kv: object, *, deleted: bool = False) -> KeyValue:
    if not isinstance(kv, Mapping):
        raise WireError("a kv that is not an object")
    value = None if deleted else _bytes(kv, "value")
    return KeyValue(_bytes(kv, "key"), value, number(kv, "mod_revision"))


def event(message: object) -> KeyValue:
    """A watch event: a PUT has no ``type`` (its default), a DELETE says so."""
    if not isinstance(message, Mapping):
        raise WireError("an event that is not an object")
    kind = message.get("type", "PUT")
    if kind not in ("PUT", "DELETE"):
        raise WireError(f"an event of unknown type {kind!r}")
    return key_value(message.get("kv"), deleted=kind == "DELETE")


def range_end(prefix: bytes) -> bytes:
    """The first key after every key that starts with ``prefix`` (etcd's ``range_end``): the
    prefix with its last byte below 0xff incremented; ``\\0`` (every key) if it has none."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return b"\0"
    return stripped[:-1] + bytes([stripped[-1] + 1])
