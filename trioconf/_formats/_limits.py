"""The safety limits every parse enforces, in one place so they can be read and tested together.

They are limits on the *shape* of a document, not its size: a small file can still be an alias
bomb or a tower of brackets, and the stages after parsing are where either would do harm.
"""

from __future__ import annotations

YAML_MAX_ALIASES = 100
YAML_MAX_NODES = 1_000_000
# Nesting deeper than this is refused in every format. No real config comes close, and the
# stages after parsing (merge, structure, diff) recurse once or more per level: a document
# that parsed at depth 900 would blow Python's recursion limit inside the updater instead.
MAX_DEPTH = 128
