"""Convergence as a property: whatever lands on disk, the reloader ends up saying what it means.

A hypothesis state machine drives one to three layered files (``base``, ``mid``, ``top``, lowest
precedence first, each TOML, YAML or JSON, some optional) through random edits: in-place and
atomic (rename) writes, deletes, recreates, touches, identical rewrites, reformatted rewrites
with the same meaning, values of the wrong type, unknown keys and syntax garbage, and bursts of
several edits with no pause between them. It keeps its own model of every file's latest
content and computes, independently of trioconf (its own merge, its own strict structuring),
what those contents mean.

After every step the invariant checks, first through the watcher alone (the path users
depend on) and then once more after ``live.reload()`` (a deterministic settle point):

- ``current`` is the config the latest contents mean when they are valid, and otherwise the
  last good one stays;
- ``last_error`` is None exactly when the latest contents are valid, and otherwise is the
  error kind (missing file, parse error, bad fields) of the first thing that is wrong, naming
  the file for source errors;
- ``version`` moved by one exactly when the merged config changed, and not for a touch, an
  identical rewrite, a rewrite that means the same, or any bad edit.

A burst can be seen half-way (the reloader may read between two of its writes, and reads the
files one after another), so after a burst the check is looser: the version moved at most once
per edit, and at least once if the final config differs; when the final contents are bad, the
config kept is one that some mix of the versions each file went through means.

Trio runs in a background thread for a machine's lifetime (the rules are sync and touch real
files); the invariant calls into it with ``trio.from_thread.run``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from support import PATIENCE, wait_until

import trioconf


@attrs.frozen
class Inner:
    x: int = 0
    tags: list[str] = attrs.Factory(list)


@attrs.frozen
class Conf:
    name: str = "default"
    port: int = 0
    debug: bool = False
    inner: Inner = attrs.Factory(Inner)


# --- the model: what a file's bytes mean, computed without trioconf ------------------------------

Doc = dict[str, Any]


@attrs.frozen
class Content:
    """Bytes on disk and what they mean: a mapping, or ``None`` when they do not parse to one."""

    raw: bytes
    doc: Doc | None


@attrs.define
class FileModel:
    path: Path
    fmt: str
    optional: bool
    content: Content | None  # None: the file does not exist


@attrs.frozen
class Expected:
    """What the files mean: a config, or the kind of error (and the file, for source errors)."""

    config: Conf | None
    error: type[trioconf.ConfigError] | None = None
    culprit: Path | None = None


def merge_docs(docs: Iterable[Doc]) -> Doc:
    """Mappings merge key by key, recursively; anything else is replaced whole."""

    def into(target: Doc, source: Doc) -> None:
        for key, value in source.items():
            if isinstance(value, dict) and isinstance(target.get(key), dict):
                into(target[key], value)
            else:
                target[key] = json.loads(json.dumps(value))  # a deep copy

    merged: Doc = {}
    for doc in docs:
        into(merged, doc)
    return merged


def _is_int(v: object) -> bool:
    return type(v) is int


def _is_str_list(v: object) -> bool:
    return type(v) is list and all(type(i) is str for i in v)


def build(data: Doc) -> Conf | None:
    """The config a merged document means under strict typing, or None if it means none."""
    if set(data) - {"name", "port", "debug", "inner"}:
        return None
    checks: dict[str, Callable[[object], bool]] = {
        "name": lambda v: type(v) is str,
        "port": _is_int,
        "debug": lambda v: type(v) is bool,
    }
    if not all(check(data[key]) for key, check in checks.items() if key in data):
        return None
    inner = data.get("inner", {})
    if type(inner) is not dict or set(inner) - {"x", "tags"}:
        return None
    if ("x" in inner and not _is_int(inner["x"])) or (
        "tags" in inner and not _is_str_list(inner["tags"])
    ):
        return None
    top = {k: data[k] for k in checks if k in data}
    return Conf(**top, inner=Inner(**inner))


def expect(files: Iterable[FileModel]) -> Expected:
    """What trioconf must make of these files: the first source that cannot be used (in
    precedence order) wins; then the merge must structure."""
    docs = []
    for f in files:
        if f.content is None:
            if f.optional:
                continue
            return Expected(None, trioconf.MissingSourceError, f.path)
        if f.content.doc is None:
            return Expected(None, trioconf.ParseError, f.path)
        docs.append(f.content.doc)
    config = build(merge_docs(docs))
    return Expected(config, None if config is not None else trioconf.ValidationError)


# --- writing documents in each format (by hand, so the test does not lean on trioconf) -----------


def _scalar(v: object) -> str:
    # JSON's spelling of true/false, numbers and double-quoted strings (ASCII only: the
    # alphabet below) is valid TOML and YAML 1.2 too.
    return json.dumps(v)


def _toml_value(v: object) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return _scalar(v)


def to_toml(doc: Doc) -> str:
    lines = [f"{k} = {_toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for k, v in doc.items():
        if isinstance(v, dict):
            lines.append(f"[{k}]")
            lines.extend(f"{ik} = {_toml_value(iv)}" for ik, iv in v.items())
    # A document with no keys at all: a comment (an empty TOML file would mean the same).
    return "\n".join(lines) + "\n" if lines else "# nothing set here\n"


def to_yaml(doc: Doc, indent: str = "") -> str:
    if not doc and not indent:
        return "{}\n"
    out = ""
    for k, v in doc.items():
        if isinstance(v, dict) and v:
            out += f"{indent}{k}:\n" + to_yaml(v, indent + "  ")
        else:
            out += f"{indent}{k}: {_scalar(v)}\n"
    return out


SERIALIZERS: dict[str, Callable[[Doc], str]] = {
    "toml": to_toml,
    "yaml": to_yaml,
    "json": lambda doc: json.dumps(doc, indent=1) + "\n",
}

# Contents that never mean a mapping: syntax errors, a top level that is no mapping, an empty
# or blank JSON file, bytes that are not UTF-8, duplicate keys, an undefined YAML alias.
GARBAGE: dict[str, list[bytes]] = {
    "toml": [b"name = \n", b"[inner\nx = 1\n", b"\xff\xfe", b"port = 1\nport = 2\n"],
    "yaml": [b"name: [a\n", b"- 1\n- 2\n", b"\xff", b"port: 1\nport: 2\n", b"x: *a\n"],
    "json": [b'{"name": ', b"[1, 2]\n", b"", b" \n", b"\xff{}", b'{"port": 1, "port": 2}\n'],
}
# An empty or blank TOML or YAML file is a layer that sets nothing (emptied under the reloader,
# it applies once missing_grace has passed without a new report).
EMPTY: dict[str, list[bytes]] = {
    "toml": [b"", b"  \n", b"# nothing\n"],
    "yaml": [b"", b"\n\n", b"# nothing\n", b"---\n"],
    "json": [],
}

# Small value domains, so that distinct edits often mean the same config.
names = st.sampled_from(["a", "b", "a b", 'q"uote', "#x", "k: v"])
ints = st.integers(0, 3)
good_inner = st.fixed_dictionaries({}, optional={"x": ints, "tags": st.lists(names, max_size=2)})
_top_level = {"name": names, "port": ints, "debug": st.booleans()}
good_docs = st.one_of(
    # Often an inner table in several layers, each with some of its keys: the merge must
    # combine them key by key, and forget a key as soon as no layer has it.
    st.fixed_dictionaries({"inner": good_inner}, optional=_top_level),
    st.fixed_dictionaries({}, optional={**_top_level, "inner": good_inner}),
)
# One value of the wrong type or one unknown key (a lower layer's wrong value may be overridden
# by a higher layer, and then the merge is valid: the model judges the merge, not the file).
BAD_ENTRIES: list[tuple[tuple[str, ...], str, object]] = [
    ((), "port", "80"),
    ((), "port", True),
    ((), "port", 1.5),
    ((), "debug", 1),
    ((), "debug", "yes"),
    ((), "name", 5),
    ((), "name", ["a"]),
    ((), "inner", 5),
    ((), "inner", "x"),
    (("inner",), "x", "1"),
    (("inner",), "x", False),
    (("inner",), "tags", "a"),
    (("inner",), "tags", [1]),
    (("inner",), "tags", {"a": "b"}),
    ((), "nmae", "typo"),
    (("inner",), "y", 1),
]


@st.composite
def bad_docs(draw: st.DrawFn) -> Doc:
    doc = json.loads(json.dumps(draw(good_docs)))
    where, key, value = draw(st.sampled_from(BAD_ENTRIES))
    if where:
        if not isinstance(doc.get("inner"), dict):
            doc["inner"] = {}
        doc["inner"][key] = value
    else:
        doc[key] = value
    return doc


indices = st.integers(0, 2)  # taken modulo the number of files

# No progress in the pipeline for this long, in a state that is not the expected one, is a
# failure. Longer than anything the watcher holds a report back on purpose (the open-writer
# grace, 2 s, is the longest).
IDLE_LIMIT = 2.5


# --- trio in a thread ----------------------------------------------------------------------------


class TrioThread:
    """A reloader running under ``trio.run`` in a thread until ``close()``."""

    def __init__(self, sources: list[trioconf.File], backend: str) -> None:
        self.live: trioconf.Live[Conf] | None = None
        self.token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._error: BaseException | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(sources, backend), daemon=True)
        self._thread.start()
        if not self._ready.wait(PATIENCE):
            raise AssertionError("the reloader did not start")
        if self._error is not None:
            raise self._error

    def _run(self, sources: list[trioconf.File], backend: str) -> None:
        try:
            trio.run(self._main, sources, backend)
        except BaseException as exc:  # handed to the test's thread by close()
            self._error = exc
        finally:
            self._ready.set()

    async def _main(self, sources: list[trioconf.File], backend: str) -> None:
        self._stop = trio.Event()
        async with trioconf.open_reloader(
            Conf,
            *sources,
            debounce=0,
            # A file read between an in-place write's truncate and its write (a burst's next
            # save catching the read) counts as emptied, and applies as empty if no report
            # follows within the grace: keep it far above that gap on a loaded machine (50 ms
            # was not, twice in CI, on Python 3.10).
            missing_grace=0.3,
            backend=backend,  # type: ignore[arg-type]
            poll_interval=0.02,
        ) as live:
            self.live = live
            self.token = trio.lowlevel.current_trio_token()
            self._ready.set()
            await self._stop.wait()

    def run(self, afn: Callable[..., Any], *args: object) -> Any:
        return trio.from_thread.run(afn, *args, trio_token=self.token)

    def close(self) -> None:
        if self.token is not None and self._stop is not None:
            with contextlib.suppress(trio.RunFinishedError):  # it already ended (and failed)
                trio.from_thread.run_sync(self._stop.set, trio_token=self.token)
        self._thread.join(PATIENCE)
        assert not self._thread.is_alive(), "the reloader did not stop"
        if self._error is not None:
            raise self._error
        assert self.live is not None
        assert self.live.closed


# --- the machine ---------------------------------------------------------------------------------


@attrs.frozen
class Target:
    """What the invariant waits for: one of ``configs``, a version in ``[lo, hi]``, and the
    expected error (kind and culprit file), or none."""

    configs: tuple[Conf, ...]
    lo: int
    hi: int
    expected: Expected


def error_matches(error: trioconf.ConfigError | None, expected: Expected) -> bool:
    if expected.error is None:
        return error is None
    if type(error) is not expected.error:
        return False
    return expected.culprit is None or str(expected.culprit) in str(error)


class ConvergenceMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="trioconf-convergence-"))
        self.files: list[FileModel] = []
        self.trio: TrioThread | None = None
        self.good: Conf = Conf()  # the last config published
        self.version = 1
        self.pending: Target | None = None  # set by each step, checked by the invariant

    # -- set-up and teardown -------------------------------------------------------------------

    @initialize(
        count=st.integers(1, 3),
        formats=st.permutations(["toml", "yaml", "json"]),
        optional=st.lists(st.booleans(), min_size=3, max_size=3),
        present=st.lists(st.booleans(), min_size=3, max_size=3),
        docs=st.lists(good_docs, min_size=3, max_size=3),
        backend=st.sampled_from(["inotify", "inotify", "poll"]),
    )
    def start(
        self,
        count: int,
        formats: list[str],
        optional: list[bool],
        present: list[bool],
        docs: list[Doc],
        backend: str,
    ) -> None:
        sources = []
        for i, layer in enumerate(["base", "mid", "top"][:count]):
            fmt = formats[i]
            model = FileModel(self.dir / f"{layer}.{fmt}", fmt, optional[i], None)
            self.files.append(model)
            if present[i] or not optional[i]:
                self._write(model, self._content(model, docs[i]), atomic=False)
            sources.append(trioconf.File(model.path, optional=optional[i]))
        initial = expect(self.files)
        assert initial.config is not None  # valid documents always merge into a config
        self.good = initial.config
        self.trio = TrioThread(sources, backend)
        self.pending = Target((self.good,), 1, 1, initial)

    def teardown(self) -> None:
        try:
            if self.trio is not None:
                self.trio.close()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- file operations (also the model's) ----------------------------------------------------

    def _file(self, index: int) -> FileModel:
        return self.files[index % len(self.files)]

    @staticmethod
    def _content(f: FileModel, doc: Doc, pad: int = 0) -> Content:
        # Trailing blank lines change the bytes, not the meaning.
        return Content((SERIALIZERS[f.fmt](doc) + "\n" * pad).encode(), doc)

    @staticmethod
    def _write(f: FileModel, content: Content, *, atomic: bool) -> None:
        if atomic:  # what editors and deploy tools do: a temp file beside it, renamed over it
            tmp = f.path.with_name(f".{f.path.name}.tmp")
            tmp.write_bytes(content.raw)
            os.replace(tmp, f.path)
        else:  # open, truncate, write, close: the reloader may see it empty for an instant
            f.path.write_bytes(content.raw)
        f.content = content

    @staticmethod
    def _delete(f: FileModel) -> None:
        if f.content is not None:
            f.path.unlink()
            f.content = None

    def _step(self) -> None:
        """One edit landed: the reloader must end on exactly what the files mean now."""
        expected = expect(self.files)
        if expected.config is not None and expected.config != self.good:
            self.version += 1
            self.good = expected.config
        self.pending = Target((self.good,), self.version, self.version, expected)

    # -- rules ---------------------------------------------------------------------------------

    @rule(index=indices, doc=good_docs, atomic=st.booleans(), pad=st.integers(0, 2))
    def write_valid(self, index: int, doc: Doc, atomic: bool, pad: int) -> None:
        f = self._file(index)
        self._write(f, self._content(f, doc, pad), atomic=atomic)
        self._step()

    @rule(index=indices, doc=bad_docs(), atomic=st.booleans())
    def write_wrong_type(self, index: int, doc: Doc, atomic: bool) -> None:
        f = self._file(index)
        self._write(f, self._content(f, doc), atomic=atomic)
        self._step()

    @rule(index=indices, pick=st.integers(0, 100), atomic=st.booleans())
    def write_garbage(self, index: int, pick: int, atomic: bool) -> None:
        f = self._file(index)
        choices = GARBAGE[f.fmt]
        self._write(f, Content(choices[pick % len(choices)], None), atomic=atomic)
        self._step()

    @rule(index=indices, pick=st.integers(0, 100), atomic=st.booleans())
    def write_empty(self, index: int, pick: int, atomic: bool) -> None:
        f = self._file(index)
        choices = EMPTY[f.fmt] or GARBAGE[f.fmt][2:4]  # JSON: no document at all
        raw = choices[pick % len(choices)]
        self._write(f, Content(raw, {} if EMPTY[f.fmt] else None), atomic=atomic)
        self._step()

    @rule(index=indices)
    def delete(self, index: int) -> None:
        self._delete(self._file(index))
        self._step()

    @rule(index=indices, doc=good_docs)
    def delete_and_recreate(self, index: int, doc: Doc) -> None:
        """Gone for an instant, well within the grace: the version moves once at most (a
        required file must not fail as missing, an optional one's layer must not drop out)."""
        f = self._file(index)
        self._delete(f)
        self._write(f, self._content(f, doc), atomic=False)
        self._step()

    @rule(index=indices)
    def touch(self, index: int) -> None:
        """A new mtime, same bytes; on a missing file, ``touch`` creates it empty."""
        f = self._file(index)
        f.path.touch()
        if f.content is None:
            f.content = Content(b"", {} if EMPTY[f.fmt] else None)
        self._step()

    @rule(index=indices, atomic=st.booleans())
    def rewrite_identical(self, index: int, atomic: bool) -> None:
        f = self._file(index)
        if f.content is not None:
            self._write(f, f.content, atomic=atomic)
        self._step()

    @rule(
        edits=st.lists(
            st.tuples(
                indices,
                st.one_of(good_docs, bad_docs(), st.none(), st.just("garbage")),
                st.booleans(),
            ),
            min_size=2,
            max_size=4,
        )
    )
    def burst(self, edits: list[tuple[int, Doc | str | None, bool]]) -> None:
        """Several edits back to back: the reloader may see any of them half-way."""
        seen: dict[int, list[Content | None]] = {id(f): [f.content] for f in self.files}
        for index, doc, atomic in edits:
            f = self._file(index)
            if doc is None:
                self._delete(f)
            elif doc == "garbage":
                self._write(f, Content(GARBAGE[f.fmt][0], None), atomic=atomic)
            else:
                assert isinstance(doc, dict)
                self._write(f, self._content(f, doc), atomic=atomic)
            seen[id(f)].append(f.content)
        final = expect(self.files)
        lo = self.version + (final.config is not None and final.config != self.good)
        hi = self.version + len(edits)
        if final.config is not None:
            configs: tuple[Conf, ...] = (final.config,)
        else:
            # The config kept is the last one published: any mix of the versions each file
            # went through (files are read one after another), or the one before the burst.
            mixes = itertools.product(*(seen[id(f)] for f in self.files))
            meanings = (expect(self._as(mix)).config for mix in mixes)
            configs = (self.good, *(c for c in meanings if c is not None))
        self.pending = Target(configs, lo, hi, final)

    def _as(self, contents: tuple[Content | None, ...]) -> list[FileModel]:
        return [attrs.evolve(f, content=c) for f, c in zip(self.files, contents, strict=True)]

    # -- the invariant -------------------------------------------------------------------------

    @invariant()
    def converged(self) -> None:
        if self.trio is None or self.pending is None:
            return
        target, self.pending = self.pending, None
        config, version = self.trio.run(self._settle, target)
        # After a burst the model learns which of the allowed outcomes happened.
        self.good, self.version = config, version

    async def _settle(self, target: Target) -> tuple[Conf, int]:
        live = self.trio.live if self.trio is not None else None
        assert live is not None

        def state() -> str:
            return f"version {live.version}, {live.current}, last_error {live.last_error!r}"

        def reached() -> bool:
            return (
                target.lo <= live.version <= target.hi
                and any(live.current == c for c in target.configs)
                and error_matches(live.last_error, target.expected)
            )

        # The watcher alone must get there. Give up early once the pipeline has been idle (no
        # event, batch or attempt) for IDLE_LIMIT in a wrong state, so that a broken reloader
        # fails each shrinking attempt in seconds, not in PATIENCE.
        stats, idle_since = live.statistics(), trio.current_time()
        with trio.move_on_after(PATIENCE):
            while not reached():
                await trio.sleep(0.005)
                if live.statistics() != stats:
                    stats, idle_since = live.statistics(), trio.current_time()
                elif trio.current_time() - idle_since > IDLE_LIMIT:
                    break
        assert reached(), f"the watcher did not converge on {target}: {state()}"
        # A forced re-read of everything agrees, and changes nothing.
        version = live.version
        try:
            await live.reload()
        except trioconf.ConfigError as exc:
            error: trioconf.ConfigError | None = exc
        else:
            error = None
        assert error_matches(error, target.expected), f"reload() gave {error!r} for {target}"
        assert reached(), f"after reload(), {state()}; expected {target}"
        assert live.version == version, f"reload() of unchanged files moved the version: {state()}"
        return live.current, live.version


ConvergenceMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestConvergence = ConvergenceMachine.TestCase


# --- found by the machine above ------------------------------------------------------------------


async def test_optional_file_deleted_and_recreated_within_grace_keeps_its_layer(
    tmp_path: Path,
) -> None:
    """A delete-then-write save of an optional override must not publish the config without
    that layer for an instant (the machine's ``delete_and_recreate`` on an optional file caught
    the version moving twice): an optional file that was there gets the grace period too."""
    base = tmp_path / "base.toml"
    base.write_text('name = "base"\n')
    local = tmp_path / "local.toml"
    local.write_text('name = "local"\n')
    optional = trioconf.File(local, optional=True)
    async with trioconf.open_reloader(Conf, base, optional, debounce=0, missing_grace=5.0) as live:
        local.unlink()
        # The updater has taken the deletion's batch and read the file as missing.
        await wait_until(lambda: live.statistics().batches >= 1)
        local.write_text('name = "back"\n')
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.name == "back")
        names = [r.config.name for r in live.history if isinstance(r, trioconf.Update)]
        assert names == ["local", "back"]
        assert live.version == 2


@pytest.mark.parametrize("backend", ["inotify", "poll"])
async def test_required_file_back_from_missing_in_two_writes_never_applies_empty(
    tmp_path: Path, backend: str
) -> None:
    """A required file reported missing, then written again by two programs that each close
    it (``: > f`` creates it empty, ``>> f`` fills it), must not publish what the empty file
    means (the defaults) for a moment: the machine caught that in CI on Python 3.10 (a new
    file saved twice in a row, read between the first close and the second truncate). A file
    that reads empty where it read anything else, no file included, gets its grace."""
    base = tmp_path / "base.toml"
    base.write_text('name = "base"\nport = 1\n')
    script = """
        : > "$1"
        sleep 0.1
        echo 'name = "back"' >> "$1"
    """
    chosen: Any = backend  # "inotify" or "poll"
    async with trioconf.open_reloader(
        Conf, base, debounce=0, backend=chosen, poll_interval=0.02
    ) as live:
        base.unlink()
        await wait_until(lambda: isinstance(live.last_error, trioconf.MissingSourceError))
        await trio.run_process(["sh", "-c", script, "sh", str(base)])
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.name == "back")
        await wait_until(lambda: live.last_error is None)
        applied = [r.config for r in live.history if isinstance(r, trioconf.Update)]
    assert applied == [Conf("base", port=1), Conf("back")], applied
