"""The public surface, pinned: a name added to or dropped from ``trioconf`` is a decision that
shows up here, and every public name has its entry in the API reference (like trio's
``test_exports``)."""

from __future__ import annotations

import re
import types
from pathlib import Path

import trioconf

PUBLIC = {
    "ConcurrentModification",
    "Cleared",
    "ConfigError",
    "Directory",
    "DotEnv",
    "Env",
    "Etcd",
    "Failure",
    "FieldError",
    "File",
    "FileGuard",
    "FirstFound",
    "GuardStatistics",
    "Live",
    "LockTimeout",
    "LockedFile",
    "MissingSourceError",
    "Notify",
    "OperationTimeout",
    "ParseError",
    "PastUpdate",
    "RejectedError",
    "SecretStr",
    "SecretsDir",
    "RestartPending",
    "Source",
    "SourceError",
    "UnknownFormatError",
    "Statistics",
    "Update",
    "ValidationError",
    "View",
    "json_schema",
    "load",
    "open_reloader",
    "run_reloader",
    "field",
    "first_found",
    "unit",
    "write_atomic",
}
API = Path(__file__).parent.parent / "docs" / "api.rst"


def test_the_public_names_are_exactly_these() -> None:
    assert set(trioconf.__all__) == PUBLIC
    exported = {
        name
        for name, value in vars(trioconf).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert exported == PUBLIC, "a public name that is not in __all__, or the reverse"


def test_every_public_name_is_documented_in_the_api_reference() -> None:
    documented = set(re.findall(r"^\.\. auto\w+:: (\w+)$", API.read_text(), re.MULTILINE))
    assert documented >= PUBLIC, f"missing from docs/api.rst: {sorted(PUBLIC - documented)}"
    assert documented <= PUBLIC, f"documented, not public: {sorted(documented - PUBLIC)}"


def test_every_public_name_is_defined_in_a_private_module_and_has_a_docstring() -> None:
    for name in PUBLIC:
        value = getattr(trioconf, name)
        assert value.__module__.startswith("trioconf._"), name
        assert (value.__doc__ or "").strip(), f"{name} has no docstring"
