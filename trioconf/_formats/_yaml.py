"""YAML: which loader answers (C or pure Python), and the event pre-pass that enforces the limits.

ruamel.yaml builds objects without limits, and aliases make a tiny document expand into an
enormous tree only once something walks it; the C composer also crashes on deep nesting. So
every YAML document is first walked as an event stream (``_yaml_prescan``), counting depth,
aliases and expanded nodes, and only then loaded, by the C loader when ``ruamel.yaml.clib`` is
installed (about 4x faster), else by the pure one.

A document the C path does not accept gets the pure path's answer, value or error, with its
own pre-pass: libyaml refuses some valid YAML 1.2 (a tab in a block scalar, an anchor defined
twice), and a file must not load on one install and fail on another. The C path keeps the
documents it accepts, for speed; the few of those the pure loader refuses or reads otherwise
are listed in docs/sources.rst and pinned in tests/test_yaml_loaders.py.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Generator
from typing import Any, NoReturn

from ruamel.yaml import YAML
from ruamel.yaml import main as _yaml_main
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    ScalarEvent,
)
from ruamel.yaml.reader import ReaderError

from .._errors import ParseError
from ._limits import MAX_DEPTH, YAML_MAX_ALIASES, YAML_MAX_NODES
from ._position import _position

# ruamel.yaml picks its parser by this very name: what it holds is what YAML(typ="safe") runs.
_CParser: Any = getattr(_yaml_main, "CParser", None)
_CSafeLoader: Any = None
if _CParser is not None:
    from ruamel.yaml.cyaml import CSafeLoader

    class _CSafeLoader(CSafeLoader):  # type: ignore[no-redef]
        # The C loader resolves scalars by YAML 1.2 rules but reports no version, so the
        # shared constructor took `1e5` for YAML 1.1 and warned MantissaNoDotYAML1_1Warning on
        # every such float (an error under -W error, where parse turned it into a ParseError).
        processing_version = (1, 2)


def yaml_c_loader_available() -> bool:
    """True when ``ruamel.yaml.clib`` is importable, so YAML parses about 4x faster."""
    return _CSafeLoader is not None


def _yaml_load(text: str, pure: bool, compose: bool = False) -> Any:
    """Construct (or only compose, for ``locate``) the single document of ``text``."""
    if pure or _CSafeLoader is None:
        yaml = YAML(typ="safe", pure=True)
        # Both are the defaults of 0.19; set them so a future default cannot change behaviour.
        yaml.allow_duplicate_keys = False
        yaml.version = None  # YAML 1.2 unless the document has a %YAML directive
        # An anchor defined again is valid YAML (an alias means the latest definition), and
        # the pre-pass sizes it so; the composer would warn about it on every reload.
        yaml.composer.warn_double_anchors = False
        return yaml.compose(text) if compose else yaml.load(text)
    # The C loader class directly: YAML(typ="safe").load() builds a new loader class on every
    # call, which made it 25-30% slower on a typical config. Same parser, same constructor.
    loader = _CSafeLoader(text)
    loader.allow_duplicate_keys = False
    try:
        return loader.get_single_node() if compose else loader.get_single_data()
    finally:
        loader.dispose()


def _yaml_events(text: str, pure: bool) -> Generator[Any, None, None]:
    if pure or _CSafeLoader is None:
        events = YAML(typ="safe", pure=True).parse(text)
        try:
            yield from events
        finally:
            events.close()
        return
    # The bare C parser: YAML().parse() costs twice as much in per-call setup.
    parser = _CParser(text)
    try:
        while (event := parser.get_event()) is not None:
            yield event
    finally:
        parser.dispose()


PURE_INLINE_LIMIT = 4 * 1024
"""Characters of YAML the pure loader parses in about a few milliseconds here: above it, a
document the C loader refused is not parsed again inline (``NotInline``)."""


class NotInline(Exception):
    """The C loader refused a document too large for the pure loader to parse inline without
    stalling the event loop: parse it where that is allowed (a worker process)."""


def _parse_yaml(text: str, source: str, inline: bool = False) -> Any:
    try:
        return _yaml_answer(text, source, inline=inline)
    except YAMLError as exc:
        error = _parse_error(exc, text, source)
    # Raised out here, neither chained nor with a context: ruamel's exception prints the
    # offending lines of the document (in a logged traceback, in the history's copy), and a
    # line may hold a secret. The ParseError says what and where.
    raise error


def _yaml_answer(text: str, source: str, compose: bool = False, inline: bool = False) -> Any:
    """The document's data (or node tree): the C path's when it accepts, else the pure path's.

    Whatever the C path does not accept, a libyaml syntax error or one of the pre-pass's
    limits on libyaml's events alike, the pure path answers from the start, limits included:
    so a document's value or error is the one a machine without ruamel.yaml.clib gets. Only
    a refused document is parsed twice (the pure loader is what answers it, and its speed is
    what that costs); a document the C path accepts costs what it did.
    """
    if _CSafeLoader is not None:
        # Any refusal, a YAMLError or not (a list as a mapping key is a TypeError): the pure
        # path below raises its own.
        with contextlib.suppress(Exception):
            return _checked_load(text, source, pure=False, compose=compose)
        if inline and len(text) > PURE_INLINE_LIMIT:
            # The inline limit assumed the C loader's speed: ~150 ms of pure parsing at
            # 16 KiB would stall every task. ``inline``: the caller can parse it elsewhere.
            raise NotInline
    return _checked_load(text, source, pure=True, compose=compose)


class _NoDocument(Exception):
    """The stream holds no document: only comments (or directives)."""


def _checked_load(text: str, source: str, pure: bool, compose: bool = False) -> Any:
    try:
        version = _yaml_prescan(text, source, pure)
    except _NoDocument:
        # A file of comments sets nothing, like an empty one (``parse``): an empty layer.
        return None if compose else {}
    # The C parser ignores a %YAML 1.1 directive for implicit types (`yes` stays a string);
    # the pure one honours it. Send such documents where they are understood.
    data = _yaml_load(text, pure or version == (1, 1), compose)
    if data is None and not compose and _only_markers(text):
        # A document with no content (``---`` and comments: a file with only its header
        # written yet) sets nothing either; an explicit ``~`` is a null, refused later.
        return {}
    return data


def _only_markers(text: str) -> bool:
    """Whether every line is blank, a comment, a directive or a document marker."""
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "%")) and line not in ("---", "..."):
            return False
    return True


# ruamel's duplicate-key problem quotes both values ('found duplicate key "password" with value
# "b" (original value: "a")'): the key and the line say enough, and either value may be a secret.
_DUPLICATE_VALUES = re.compile(r' with value ".*" \(original value: ".*"\)', re.DOTALL)


def _parse_error(exc: YAMLError, text: str, source: str) -> ParseError:
    if isinstance(exc, ReaderError):
        line, column = _position(text, exc.position)
        reason = f"unacceptable character #x{exc.character:04x}: {exc.reason}"
        return ParseError(source, reason, line=line, column=column)
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        context = str(exc.context or "")
        if context and exc.context_mark is not None and exc.context_mark is not mark:
            # "while parsing a flow sequence (line 2): did not find expected ',' or ']'"
            context += f" (line {exc.context_mark.line + 1})"
        problem = _DUPLICATE_VALUES.sub("", str(exc.problem or ""))
        reason = ": ".join(part for part in (context, problem) if part)
        if mark is None:
            return ParseError(source, reason or "invalid YAML")
        return ParseError(source, reason, line=mark.line + 1, column=mark.column + 1)
    return ParseError(source, str(exc) or "invalid YAML")


def _yaml_fail(source: str, reason: str, event: Any) -> NoReturn:
    mark = event.start_mark
    raise ParseError(source, reason, line=mark.line + 1, column=mark.column + 1)


def _yaml_prescan(text: str, source: str, pure: bool = False) -> tuple[int, int] | None:
    """Walk the event stream before anything builds objects; return the %YAML version.

    Aliases share objects, so a 432-byte alias bomb *loads* in milliseconds and explodes
    only in whatever walks the result afterwards. Counting here uses the expanded size: each
    alias adds the full size of the node it repeats. The event stream is also the only safe
    place to measure depth: the C composer recurses in C and segfaults near 100,000 levels.
    """
    documents = aliases = expanded = 0
    version: tuple[int, int] | None = None
    anchor_sizes: dict[str, int] = {}
    open_anchors: set[str] = set()
    stack: list[list[Any]] = []  # [expanded size so far, anchor] per open collection
    events = _yaml_events(text, pure)  # a generator: close() disposes of the parser at once
    try:
        for event in events:
            if isinstance(event, DocumentStartEvent):
                documents += 1
                if documents > 1:
                    _yaml_fail(source, "more than one document in the file", event)
                version = event.version
                continue
            if isinstance(event, CollectionStartEvent):
                if len(stack) >= MAX_DEPTH:
                    _yaml_fail(source, f"nested too deeply (more than {MAX_DEPTH} levels)", event)
                stack.append([1, event.anchor])
                if event.anchor is not None:
                    open_anchors.add(event.anchor)
                size = 1
            elif isinstance(event, CollectionEndEvent):
                size, anchor = stack.pop()
                # An alias means the latest definition of its anchor, which the composer takes
                # at a node's start: a node inside that defined the name again keeps it.
                if anchor in open_anchors:
                    anchor_sizes[anchor] = size
                    open_anchors.discard(anchor)
                if stack:
                    stack[-1][0] += size
                continue
            elif isinstance(event, AliasEvent):
                aliases += 1
                if aliases > YAML_MAX_ALIASES:
                    _yaml_fail(source, f"more than {YAML_MAX_ALIASES} aliases", event)
                if event.anchor in open_anchors:
                    _yaml_fail(source, f"recursive alias *{event.anchor}", event)
                size = anchor_sizes.get(event.anchor, 1)
                if stack:
                    stack[-1][0] += size
            elif isinstance(event, ScalarEvent):
                if event.anchor is not None:
                    anchor_sizes[event.anchor] = 1
                    open_anchors.discard(event.anchor)  # `&x [&x 1, *x]`: *x is that 1
                size = 1
                if stack:
                    stack[-1][0] += 1
            else:
                continue
            expanded += size
            if expanded > YAML_MAX_NODES:
                reason = f"more than {YAML_MAX_NODES} nodes once aliases are expanded"
                _yaml_fail(source, reason, event)
    finally:
        events.close()
    if documents == 0:
        raise _NoDocument
    return version
