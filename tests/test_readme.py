"""The README's first example, run as a newcomer would: in an empty folder, after the one
command the README gives to create its file (issue 10, "Errors and docs")."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import trio
from support import PATIENCE

README = Path(__file__).parent.parent / "README.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", README.read_text(), re.S | re.M)


async def test_the_first_example_runs_in_an_empty_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    setup = _blocks("sh")[0]
    await trio.run_process(["sh", "-c", setup])  # the README's own command
    example = _blocks("python")[0]
    assert example.rstrip().endswith("trio.run(main)")
    printed: list[str] = []
    connected = trio.Event()

    def record(*args: Any) -> None:
        printed.append(" ".join(map(str, args)))
        if printed[-1].startswith("connecting to"):
            connected.set()

    namespace: dict[str, Any] = {"print": record, "__name__": "readme"}
    # Everything but the last line: the test runs main() itself, and stops it.
    # dont_inherit: this module's ``from __future__ import annotations`` is not the README's.
    code = compile(
        example.rstrip().removesuffix("trio.run(main)"), "README.md", "exec", dont_inherit=True
    )
    exec(code, namespace)
    with trio.fail_after(PATIENCE):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(namespace["main"])
            await connected.wait()
            nursery.cancel_scope.cancel()
    assert printed == [
        "AppConfig(name='shop', db=Database(host='localhost', port=5432))",
        "connecting to localhost 5432",
    ]
