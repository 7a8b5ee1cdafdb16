"""Parsing JSON, TOML and YAML documents into plain data, with positions and safety limits.

``parse`` turns the bytes of one file into a plain ``dict`` or raises ``ParseError`` with a
1-based line and column; nothing else escapes it. ``locate`` finds where a key path is written,
for error messages about values that parsed fine but are wrong.

Everything here is synchronous, top level and takes only picklable arguments: the updater calls
``parse`` inline for small files and in a trio-parallel worker process for large ones
(``INLINE_LIMITS``).

The modules, in the order data flows through them: ``_parse`` (decode, dispatch, checks),
``_json`` / ``_toml`` / ``_yaml`` (one parser each), ``_checks`` (what a config must not
hold), ``_locate`` (dispatch) with ``_toml_locate`` / ``_yaml_locate`` (JSON's walker lives in
``_json``, which needs it to place duplicate keys). ``_limits`` and ``_position`` are shared.
"""

from ._checks import _check_tree as _check_tree
from ._checks import _is_clean as _is_clean
from ._limits import MAX_DEPTH as MAX_DEPTH
from ._limits import YAML_MAX_ALIASES as YAML_MAX_ALIASES
from ._limits import YAML_MAX_NODES as YAML_MAX_NODES
from ._locate import locate as locate
from ._parse import INLINE_LIMITS as INLINE_LIMITS
from ._parse import parse as parse
from ._yaml import NotInline as NotInline
from ._yaml import _yaml_load as _yaml_load
from ._yaml import yaml_c_loader_available as yaml_c_loader_available

__all__ = [
    "INLINE_LIMITS",
    "MAX_DEPTH",
    "YAML_MAX_ALIASES",
    "YAML_MAX_NODES",
    "NotInline",
    "locate",
    "parse",
    "yaml_c_loader_available",
]
