"""Consistent reads of source files, with real files."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from trioconf import _read
from trioconf._errors import (
    FieldError,
    MissingSourceError,
    ParseError,
    RejectedError,
    SourceError,
    ValidationError,
)


def test_reads_whole_file_and_digest_tracks_content(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_bytes(b"x = 1\n" * 50_000)
    first = _read.read_consistent(path)
    assert first.raw == path.read_bytes()
    os.utime(path, (1, 1))  # a touch: same bytes, same digest
    assert _read.read_consistent(path).digest == first.digest
    path.write_bytes(b"x = 2\n")
    assert _read.read_consistent(path).digest != first.digest


def test_missing_file_and_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(MissingSourceError):
        _read.read_consistent(tmp_path / "nope.toml")
    (tmp_path / "file").write_text("")
    with pytest.raises(MissingSourceError):
        _read.read_consistent(tmp_path / "file" / "below.toml")  # ENOTDIR


def test_directory_fifo_loop_and_size_limit_are_source_errors(tmp_path: Path) -> None:
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(SourceError, match="is a directory"):
        _read.read_consistent(tmp_path / "dir.toml")
    os.mkfifo(tmp_path / "fifo.toml")
    with pytest.raises(SourceError, match="not a regular file"):
        _read.read_consistent(tmp_path / "fifo.toml")  # and it does not hang
    os.symlink("loop2", tmp_path / "loop1")
    os.symlink("loop1", tmp_path / "loop2")
    with pytest.raises(SourceError, match="symlink loop"):
        _read.read_consistent(tmp_path / "loop1")
    (tmp_path / "big.toml").write_bytes(b"a" * 1000)
    with pytest.raises(SourceError, match="too large"):
        _read.read_consistent(tmp_path / "big.toml", max_size=999)


def test_errors_survive_pickling_for_worker_processes() -> None:
    errors = [
        ParseError("a.toml", "bad", line=3, column=4),
        SourceError("a.toml", "permission denied"),
        MissingSourceError("a.toml", "does not exist"),
        ValidationError([FieldError("db.port", "expected an int", "x", "a.toml", 2, 8)]),
        RejectedError("too big"),
    ]
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert str(copy) == str(error)


def test_where_the_file_read_really_is(tmp_path: Path) -> None:
    """``real``: where a reader looks for a cooperating writer's sidecar. The path itself when
    its last component is no symlink (no readlink needed), the target's path through one."""
    (tmp_path / "etc").mkdir()
    target = tmp_path / "etc" / "app.toml"
    target.write_text("a = 1\n")
    assert _read.read_unless_larger(target, 100, real=True).real == str(target)  # type: ignore[union-attr]
    link = tmp_path / "app.toml"
    link.symlink_to(target)
    assert _read.read_unless_larger(link, 100, real=True).real == str(target)  # type: ignore[union-attr]
    # A symlinked directory on the way resolves to the same directory, sidecar included.
    (tmp_path / "conf").symlink_to(tmp_path / "etc")
    through = tmp_path / "conf" / "app.toml"
    assert _read.read_unless_larger(through, 100, real=True).real == str(through)  # type: ignore[union-attr]
    assert _read.read_unless_larger(link, 100).real is None  # not asked: nothing spent on it
    os.symlink("loop", tmp_path / "loop")
    with pytest.raises(SourceError, match="symlink loop"):
        _read.read_unless_larger(tmp_path / "loop", 100, real=True)


def test_size_comes_from_the_open_descriptor_before_any_read(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_bytes(b"a = 1\n" * 100)
    assert _read.read_unless_larger(path, limit=599) is None  # over the limit: nothing read
    assert _read.read_unless_larger(path, limit=600).raw == path.read_bytes()  # type: ignore[union-attr]
    with pytest.raises(SourceError, match=r"too large \(600 bytes; the limit is 599\)"):
        _read.read_unless_larger(path, limit=599, max_size=599)
