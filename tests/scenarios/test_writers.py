"""Real writers against a running reloader: each converges and never applies a torn file.

Every scenario saves the same config three times over (alpha → bravo → charlie) with a real
program run as a child process (``trio.run_process``, so the reloader keeps running while it
writes), twice over:

* ``strict`` documents, built so that no prefix of one is acceptable: ``end`` is a required
  field written last and ``validate`` demands ``end == name`` and every item, so a truncated or
  half-written read is a ParseError or a ValidationError, never a quietly applied snapshot;
* ``prefix`` documents, their realistic twins: every field has a default, one setting per line,
  no ``validate``, so a document cut after any line parses and structures. Nothing but the
  watching itself keeps a half-written file out: a torn read would be applied.

What each scenario checks:

* convergence: the snapshot reaches every written version, and ends on the last one;
* nothing torn applied: every ``Update`` in ``live.history`` is one of the complete documents;
* nothing torn even read, with inotify: no ``Failure`` at all. A writer's intermediate states
  (the file truncated by ``cp``, half written by the slow writer, missing between vim's rename
  and its new file) must be waited out, not reported as errors. The poll backend cannot know
  that a writer still holds the file open: it waits for the file to stay unchanged for one
  whole poll interval. With strict documents it polls every 50 ms, so it may read a torn
  state (rejected, never applied); with prefix documents it polls every 0.3 s, longer than
  the slow writers' pause (0.15 s), and must never apply a torn state. The watchfiles backend
  sees no close either: it reports a file once no event named it for the shorter of 0.3 s and
  the poll interval, so the poll backend's expectations are its own;
* the save mode really happened: the inode changes for the writers that replace the file (vim's
  rename save, ``sed -i``, rsync, ``mv``, git, the Kubernetes swap) and stays for those that
  write in place (vim's copy save, ``cp``, ``rsync --inplace``, ``write_text``, the slow writer).
"""

from __future__ import annotations

import abc
import itertools
import os
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Literal

import attrs
import pytest
import trio
from support import PATIENCE

import trioconf

WORDS = ("alpha", "bravo", "charlie")
# Enough lines that a document takes several writes of a buffered writer, and the slow
# writer's "half" is a real prefix (ending mid-list).
N_ITEMS = 300


@attrs.frozen
class Doc:
    name: str
    items: list[str]
    end: str


@attrs.frozen
class Loose:
    """The prefix twin of ``Doc``: any cut after a line is a valid config."""

    name: str = ""
    items: dict[str, int] = attrs.Factory(dict)


def items(word: str) -> list[str]:
    return [f"{word}-{i}" for i in range(N_ITEMS)]


def complete(doc: Doc, previous: Doc | None) -> None:
    """The validator: only a whole document passes (a prefix lacks ``end`` or items)."""
    if doc.end != doc.name or doc.items != items(doc.name):
        msg = f"torn document: name={doc.name!r} end={doc.end!r}, {len(doc.items)} items"
        raise ValueError(msg)


Data = Literal["strict", "prefix"]
# Which documents the writers write: set by the test (the writers are shared instances).
_data: list[Data] = ["strict"]


def render(word: str, fmt: str) -> str:
    if _data[0] == "prefix":
        if fmt == "toml":
            body = "".join(f'"{item}" = {i}\n' for i, item in enumerate(items(word)))
            return f'name = "{word}"\n\n[items]\n{body}'
        body = "".join(f"  {item}: {i}\n" for i, item in enumerate(items(word)))
        return f"name: {word}\nitems:\n{body}"
    if fmt == "toml":
        body = "".join(f'  "{item}",\n' for item in items(word))
        return f'name = "{word}"\nitems = [\n{body}]\nend = "{word}"\n'
    body = "".join(f"  - {item}\n" for item in items(word))
    return f"name: {word}\nitems:\n{body}end: {word}\n"


def whole(word: str) -> Doc | Loose:
    if _data[0] == "prefix":
        return Loose(word, {item: i for i, item in enumerate(items(word))})
    return Doc(word, items(word), word)


async def run(*argv: str | os.PathLike[str], cwd: Path | None = None) -> None:
    await trio.run_process([os.fspath(a) for a in argv], cwd=cwd, stdin=b"")


async def python(script: str, *args: str | os.PathLike[str]) -> None:
    await run(sys.executable, "-c", textwrap.dedent(script), *args)


class Writer(abc.ABC):
    """One way of saving a config; ``replaces`` says whether a save swaps the inode."""

    fmt = "toml"
    replaces: bool
    programs: tuple[str, ...] = ()

    async def setup(self, tmp: Path) -> Path:
        """Create the config holding ``WORDS[0]``; return the path the reloader watches."""
        path = tmp / "conf" / f"app.{self.fmt}"
        path.parent.mkdir()
        path.write_text(render(WORDS[0], self.fmt))
        return path

    @abc.abstractmethod
    async def save(self, path: Path, old: str, new: str) -> None:
        """Replace the document holding ``old`` with one holding ``new``, as the program does."""


def staged(tmp: Path, word: str, fmt: str = "toml") -> Path:
    """The new version written outside the watched directory (a source for cp/rsync/mv)."""
    source = tmp / "staging" / word / f"app.{fmt}"
    source.parent.mkdir(parents=True)
    source.write_text(render(word, fmt))
    return source


class VimRename(Writer):
    # backupcopy=no: vim renames the file to its backup and writes a new one. backupskip= so
    # that vim makes that backup under /tmp too (its default skips it there).
    replaces = True
    programs = ("vim",)
    settings = "set backupcopy=no writebackup backup backupskip="

    async def save(self, path: Path, old: str, new: str) -> None:
        await run(
            "vim", "-Nu", "NONE", "-i", "NONE", "-n", "-es",
            "-c", self.settings, "-c", f"%s/{old}/{new}/g", "-c", "wq", path,
        )  # fmt: skip


class VimCopy(VimRename):
    # backupcopy=yes: vim copies the file to its backup, then rewrites the original in place.
    replaces = False
    settings = "set backupcopy=yes writebackup backup backupskip="


class SedInPlace(Writer):
    replaces = True  # GNU sed -i writes a temp file beside it and renames it over
    programs = ("sed",)

    async def save(self, path: Path, old: str, new: str) -> None:
        await run("sed", "-i", f"s/{old}/{new}/g", path)


class Rsync(Writer):
    replaces = True  # a hidden temp file in the destination directory, renamed into place
    programs = ("rsync",)
    options: tuple[str, ...] = ()

    async def save(self, path: Path, old: str, new: str) -> None:
        # --ignore-times: never skip on rsync's size + mtime quick check.
        source = staged(path.parent.parent, new)
        await run("rsync", "--ignore-times", *self.options, source, path)


class RsyncInPlace(Rsync):
    replaces = False
    options = ("--inplace",)


class GitCheckout(Writer):
    replaces = True  # git unlinks the old file and creates the new one
    programs = ("git",)

    async def setup(self, tmp: Path) -> Path:
        repo = tmp / "repo"
        repo.mkdir()
        path = repo / "app.toml"
        git = ("git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "gc.auto=0")
        await run(*git, "init", "-q", "-b", WORDS[0], cwd=repo)
        for i, word in enumerate(WORDS):
            if i:
                await run(*git, "checkout", "-q", "-b", word, cwd=repo)
            path.write_text(render(word, self.fmt))
            await run(*git, "add", "app.toml", cwd=repo)
            await run(*git, "commit", "-q", "-m", word, cwd=repo)
        await run(*git, "checkout", "-q", WORDS[0], cwd=repo)
        return path

    async def save(self, path: Path, old: str, new: str) -> None:
        await run("git", "checkout", "-q", new, cwd=path.parent)


class Cp(Writer):
    replaces = False  # cp opens the existing file with O_TRUNC and writes it
    programs = ("cp",)

    async def save(self, path: Path, old: str, new: str) -> None:
        await run("cp", staged(path.parent.parent, new), path)


class Mv(Writer):
    replaces = True
    programs = ("mv",)

    async def save(self, path: Path, old: str, new: str) -> None:
        await run("mv", staged(path.parent.parent, new), path)


class WriteText(Writer):
    replaces = False

    async def save(self, path: Path, old: str, new: str) -> None:
        script = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text(sys.argv[2])"
        await python(script, path, render(new, self.fmt))


class SlowWriter(Writer):
    """Writes the first half of the file's lines, flushes, keeps the descriptor open for
    0.15 s, then finishes."""

    replaces = False

    async def save(self, path: Path, old: str, new: str) -> None:
        script = """
            import sys, time
            path, text = sys.argv[1:]
            half = text.rindex("\\n", 0, len(text) // 2) + 1  # a whole line: a valid prefix
            with open(path, "w") as f:
                f.write(text[:half])
                f.flush()
                time.sleep(0.15)
                f.write(text[half:])
        """
        await python(script, path, render(new, self.fmt))


class SlowReplacer(Writer):
    """As git does, unlinks the file and creates a new one, but writes it as slowly as the slow
    writer: the reader must wait for the close, not read the new file while it is half written
    (nor report the file missing in the instant between)."""

    replaces = True

    async def save(self, path: Path, old: str, new: str) -> None:
        script = """
            import os, sys, time
            path, text = sys.argv[1:]
            half = text.rindex("\\n", 0, len(text) // 2) + 1
            os.unlink(path)
            with open(path, "x") as f:
                f.write(text[:half])
                f.flush()
                time.sleep(0.15)
                f.write(text[half:])
        """
        await python(script, path, render(new, self.fmt))


# The kubelet's AtomicWriter (pkg/volume/util/atomic_writer.go), step by step: a new
# timestamped directory holding the files, a ..data_tmp symlink to it renamed onto ..data (the
# one atomic step), the user-visible symlink created if missing, the old directory removed.
KUBELET_WRITE = """
    import os, shutil, sys, tempfile, time
    mount, name, text = sys.argv[1:]
    data = os.path.join(mount, "..data")
    old = os.readlink(data) if os.path.islink(data) else None
    prefix = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
    new = tempfile.mkdtemp(prefix=prefix, dir=mount)
    with open(os.path.join(new, name), "w") as f:
        f.write(text)
    os.chmod(new, 0o755)
    visible = os.path.join(mount, name)
    if not os.path.lexists(visible):
        os.symlink(os.path.join("..data", name), visible)
    tmp = os.path.join(mount, "..data_tmp")
    os.symlink(os.path.basename(new), tmp)
    os.rename(tmp, data)
    if old is not None:
        shutil.rmtree(os.path.join(mount, old))
"""


class KubernetesAtomicWriter(Writer):
    fmt = "yaml"
    replaces = True

    async def setup(self, tmp: Path) -> Path:
        mount = tmp / "mount"
        mount.mkdir()
        await python(KUBELET_WRITE, mount, "app.yaml", render(WORDS[0], self.fmt))
        path = mount / "app.yaml"
        assert os.readlink(path) == "..data/app.yaml"
        return path

    async def save(self, path: Path, old: str, new: str) -> None:
        before = os.readlink(path.parent / "..data")
        await python(KUBELET_WRITE, path.parent, path.name, render(new, self.fmt))
        assert os.readlink(path.parent / "..data") != before
        assert not (path.parent / before).exists()  # the old directory is gone


WRITERS = [
    VimRename(),
    VimCopy(),
    SedInPlace(),
    Rsync(),
    RsyncInPlace(),
    GitCheckout(),
    Cp(),
    Mv(),
    WriteText(),
    KubernetesAtomicWriter(),
    SlowWriter(),
    SlowReplacer(),
]


@pytest.mark.parametrize("data", ["strict", "prefix"])
@pytest.mark.parametrize("backend", ["inotify", "poll", "watchfiles"])
@pytest.mark.parametrize("writer", WRITERS, ids=lambda w: type(w).__name__)
async def test_real_writer_converges_and_never_applies_a_torn_file(
    writer: Writer, backend: Literal["inotify", "poll", "watchfiles"], data: Data, tmp_path: Path
) -> None:
    for program in writer.programs:
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed (.ci/run installs it with apt-get)")
    if backend == "watchfiles":
        pytest.importorskip("watchfiles")
    _data[0] = data
    path = await writer.setup(tmp_path)
    written = {word: whole(word) for word in WORDS}
    strict = data == "strict"
    async with trioconf.open_reloader(
        Doc if strict else Loose,  # type: ignore[arg-type]
        path,
        debounce=0,
        backend=backend,
        poll_interval=0.05 if strict else 0.3,
        validate=complete if strict else None,
    ) as live:
        assert live.current == written[WORDS[0]]
        for old, new in itertools.pairwise(WORDS):
            # An open descriptor keeps the old inode allocated, so a writer that unlinks and
            # creates (git) cannot be handed the same inode number back.
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                await writer.save(path, old, new)
                replaced = os.fstat(fd).st_ino != os.stat(path).st_ino
            finally:
                os.close(fd)
            assert path.read_text() == render(new, writer.fmt)  # the program did its job
            assert replaced == writer.replaces, "the writer did not save the way it should"
            with trio.fail_after(PATIENCE):
                await live.wait_value(lambda doc, new=new: doc.name == new)  # type: ignore[misc]
        history = live.history
        stats = live.statistics()
    assert live.current == written[WORDS[-1]]
    assert live.last_error is None
    applied = [r.config for r in history if isinstance(r, trioconf.Update)]
    assert applied == [written[w] for w in WORDS]  # each version once, in order, whole
    if backend == "inotify" or not strict:
        # A poll cannot know that a writer still holds the file open, so with its 50 ms
        # interval it may read a torn state of a strict document (rejected, never applied);
        # inotify waits for the writer's close, a 0.3 s poll for the slow writers to settle.
        # watchfiles sees no close either: it waits for min(0.3 s, poll_interval) without
        # events, so it is held to the poll backend's expectations (docs/backends.rst).
        failures = [r for r in history if isinstance(r, trioconf.Failure)]
        assert not failures, [str(f.error) for f in failures]
        assert stats.rejected == 0
