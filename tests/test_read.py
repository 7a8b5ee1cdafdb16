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
