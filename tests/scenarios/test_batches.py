"""Files changed together apply as one version (issue 8, item 1).

A deploy tool, a configuration manager or ``git checkout`` rewrites several layered files a few
milliseconds apart, with the reader's event loop running in between. Every snapshot published
must be a combination somebody wrote: all the files of one release, never the new ``base.toml``
beside the old ``local.yaml``.

The documents have valid prefixes on purpose (every field has a default and nothing else is
checked), so nothing but the batching itself keeps a torn combination out. Each file carries the
release it belongs to in a field of its own; a snapshot is a state somebody wrote exactly when
all those fields agree.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal

import attrs
import pytest
import trio
from support import PATIENCE, write_atomic

import trioconf

Backend = Literal["inotify", "poll", "watchfiles"]
WATCHFILES = pytest.mark.skipif(
    importlib.util.find_spec("watchfiles") is None, reason="watchfiles is not installed"
)
BACKENDS = ["inotify", "poll", pytest.param("watchfiles", marks=WATCHFILES)]
RELEASES = ("r1", "r2", "r3", "r4")
# The quiet window of the tests below: the writes are 5-30 ms apart, well inside it. Not the
# 50 ms default: the writer runs in the reloader's own process, and a stall of the whole
# process longer than the window minus the gap (a garbage-collector pass, the VM descheduled
# on a shared 2-core machine) makes it look like a deploy that paused, which CI on Python 3.10
# showed once at 5 ms apart. Per-path windows (the bug these tests catch) tear at any width.
WINDOW = 0.25


@attrs.frozen
class Service:
    host: str = "localhost"
    port: int = 0


@attrs.frozen
class Layered:
    # One release marker per file: base.toml sets ``base``, local.yaml ``local``, and
    # override.json ``override``. Defaults everywhere, so every prefix of a file parses.
    base: str = "none"
    local: str = "none"
    override: str = "none"
    service: Service = attrs.Factory(Service)
    features: list[str] = attrs.Factory(list)


def base_toml(release: str) -> str:
    features = "".join(f'    "{release}-feature-{i}",\n' for i in range(20))
    return (
        f'base = "{release}"\nfeatures = [\n{features}]\n\n'
        f'[service]\nhost = "db-{release}.internal"\nport = 5432\n'
    )


def local_yaml(release: str) -> str:
    return f"local: {release}\nservice:\n  host: db-{release}.local\n"


def override_json(release: str) -> str:
    return f'{{\n  "override": "{release}",\n  "service": {{"port": 6432}}\n}}\n'


FILES: dict[str, Callable[[str], str]] = {
    "base.toml": base_toml,
    "local.yaml": local_yaml,
    "override.json": override_json,
}


def markers(config: Layered, names: list[str]) -> set[str]:
    fields = {
        "base.toml": config.base,
        "local.yaml": config.local,
        "override.json": config.override,
    }
    return {fields[name] for name in names}


async def in_place(path: Path, text: str) -> None:
    # One open with O_TRUNC, one write, one close, as most programs save.
    path.write_text(text)


async def by_rename(path: Path, text: str) -> None:
    write_atomic(path, text)


Save = Callable[[Path, str], Awaitable[None]]


async def collect(live: trioconf.Live[Layered], seen: list[Layered]) -> None:
    async for config in live.updates():
        seen.append(config)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("save", [in_place, by_rename], ids=["in-place", "rename"])
@pytest.mark.parametrize("count", [2, 3])
@pytest.mark.parametrize("gap", [0.005, 0.02, 0.03])
async def test_files_saved_together_apply_as_one_version(
    tmp_path: Path, backend: Backend, save: Save, count: int, gap: float
) -> None:
    names = list(FILES)[:count]
    paths = [tmp_path / name for name in names]
    for name, path in zip(names, paths, strict=True):
        path.write_text(FILES[name]("r0"))
    seen: list[Layered] = []
    async with (
        trioconf.open_reloader(
            Layered, *paths, debounce=WINDOW, backend=backend, poll_interval=0.05
        ) as live,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(collect, live, seen)
        for release in RELEASES:
            for i, (name, path) in enumerate(zip(names, paths, strict=True)):
                if i:
                    await trio.sleep(gap)  # the reader's loop runs between the writes
                await save(path, FILES[name](release))
            with trio.fail_after(PATIENCE):
                await live.wait_value(lambda c, r=release: markers(c, names) == {r})
        nursery.cancel_scope.cancel()
    torn = [markers(c, names) for c in seen if len(markers(c, names)) != 1]
    assert not torn, f"snapshots mixing releases were published: {torn}"
    # Each release once, in order: one snapshot per deploy, not one per file.
    assert [markers(c, names).pop() for c in seen] == ["r0", *RELEASES]


async def git(repo: Path, *args: str) -> None:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "gc.auto=0"]
    await trio.run_process([*command, *args], cwd=repo, stdin=b"")


@pytest.mark.parametrize("backend", BACKENDS)
async def test_git_checkout_of_three_layered_files_applies_as_one_version(
    tmp_path: Path, backend: Backend
) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed (.ci/run installs it with apt-get)")
    repo = tmp_path / "repo"
    repo.mkdir()
    names = list(FILES)
    await git(repo, "init", "-q", "-b", "r0")
    for i, release in enumerate(("r0", *RELEASES)):
        if i:
            await git(repo, "checkout", "-q", "-b", release)
        for name in names:
            (repo / name).write_text(FILES[name](release))
        await git(repo, "add", *names)
        await git(repo, "commit", "-q", "-m", release)
    await git(repo, "checkout", "-q", "r0")
    seen: list[Layered] = []
    async with (
        trioconf.open_reloader(
            Layered, *(repo / name for name in names), backend=backend, poll_interval=0.05
        ) as live,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(collect, live, seen)
        for release in (*RELEASES, "r0", "r2"):
            await git(repo, "checkout", "-q", release)  # unlinks and re-creates each file
            with trio.fail_after(PATIENCE):
                await live.wait_value(lambda c, r=release: markers(c, names) == {r})
        nursery.cancel_scope.cancel()
    torn = [markers(c, names) for c in seen if len(markers(c, names)) != 1]
    assert not torn, f"snapshots mixing branches were published: {torn}"
    assert [markers(c, names).pop() for c in seen] == ["r0", *RELEASES, "r0", "r2"]


@attrs.frozen
class Tenant:
    plan: str = "free"
    release: str = "none"


@attrs.frozen
class Tenants:
    release: str = "none"
    tenants: dict[str, Tenant] = attrs.Factory(dict)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("save", [in_place, by_rename], ids=["in-place", "rename"])
async def test_folder_files_saved_together_apply_as_one_version(
    tmp_path: Path, backend: Backend, save: Save
) -> None:
    # A keyed conf.d folder of tenants and a base file, all rewritten by one deploy, 10 ms
    # apart: every snapshot has one release throughout.
    base = tmp_path / "base.toml"
    folder = tmp_path / "tenants.d"
    folder.mkdir()
    names = ("acme", "globex", "initech")

    async def deploy(release: str) -> None:
        await save(base, f'release = "{release}"\n')
        for name in names:
            await trio.sleep(0.01)
            await save(folder / f"{name}.yaml", f"plan: pro\nrelease: {release}\n")

    for name in names:
        (folder / f"{name}.yaml").write_text("plan: pro\nrelease: r0\n")
    base.write_text('release = "r0"\n')

    def releases(c: Tenants) -> set[str]:
        return {c.release, *(t.release for t in c.tenants.values())}

    seen: list[Tenants] = []
    async with (
        trioconf.open_reloader(
            Tenants,
            base,
            trioconf.Directory(folder, pattern="*.yaml", key="tenants"),
            debounce=WINDOW,
            backend=backend,
            poll_interval=0.05,
        ) as live,
        trio.open_nursery() as nursery,
    ):

        async def collect_tenants() -> None:
            async for config in live.updates():
                seen.append(config)

        nursery.start_soon(collect_tenants)
        for release in RELEASES:
            await deploy(release)
            with trio.fail_after(PATIENCE):
                await live.wait_value(lambda c, r=release: releases(c) == {r})
        nursery.cancel_scope.cancel()
    torn = [releases(c) for c in seen if len(releases(c)) != 1]
    assert not torn, f"snapshots mixing releases were published: {torn}"
    assert [releases(c).pop() for c in seen] == ["r0", *RELEASES]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_commit_trigger_makes_a_slow_deploy_atomic(
    tmp_path: Path, backend: Backend
) -> None:
    # The deploy writes its files 0.7 s apart, further apart than max_debounce (0.5 s), then
    # touches its stamp. Without the trigger that is two versions; with it, one.
    names = ["base.toml", "local.yaml"]
    paths = [tmp_path / name for name in names]
    stamp = tmp_path / ".deployed"
    for name, path in zip(names, paths, strict=True):
        path.write_text(FILES[name]("r0"))
    seen: list[Layered] = []
    async with (
        trioconf.open_reloader(
            Layered, *paths, backend=backend, poll_interval=0.05, commit_trigger=stamp
        ) as live,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(collect, live, seen)
        for release in RELEASES[:2]:
            for name, path in zip(names, paths, strict=True):
                await save_and_wait(path, FILES[name](release), 0.7)
            assert markers(live.current, names) != {release}  # nothing until the trigger
            stamp.write_text(release)
            with trio.fail_after(PATIENCE):
                await live.wait_value(lambda c, r=release: markers(c, names) == {r})
        # reload() does not wait for the trigger: it reads what is there.
        paths[0].write_text(FILES[names[0]]("r9"))
        await live.reload()
        assert live.current.base == "r9"
        nursery.cancel_scope.cancel()
    torn = [markers(c, names) for c in seen if len(markers(c, names)) != 1]
    assert torn == [{"r9", "r2"}]  # only the reload's, on purpose


async def save_and_wait(path: Path, text: str, seconds: float) -> None:
    await in_place(path, text)
    await trio.sleep(seconds)  # a slow deploy: the loop runs, the window passes


async def test_a_trigger_that_is_also_a_source_is_a_plain_usage_error(tmp_path: Path) -> None:
    base = tmp_path / "base.toml"
    base.write_text(base_toml("r0"))
    folder = tmp_path / "conf.d"
    folder.mkdir()
    with pytest.raises(ValueError, match="also a source"):
        async with trioconf.open_reloader(Layered, base, commit_trigger=base):
            pass
    with pytest.raises(ValueError, match="matches the pattern"):
        async with trioconf.open_reloader(
            Layered, trioconf.Directory(folder), commit_trigger=folder / "zz-commit.toml"
        ):
            pass
    async with trioconf.open_reloader(
        Layered, trioconf.Directory(folder), commit_trigger=folder / ".commit"
    ) as live:
        assert live.version == 1
