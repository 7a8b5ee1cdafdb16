"""``trioconf.Etcd`` against a real etcd (tests/etcd_server.py starts /usr/bin/etcd per test).

Faults are made for real: etcd is killed with SIGKILL and restarted on its data dir and port,
revisions are compacted, and a proxy between the source and etcd (``tcp_proxy``) partitions
them (cut, black-holed, or frozen half-open) while the test changes etcd, so that what the
source must catch up on is known, not left to timing.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from etcd_server import Client, EtcdServer, connections_to, etcd_server
from support import PATIENCE, wait_until
from tcp_proxy import TcpProxy, open_tcp_proxy

import trioconf
from trioconf.testing import Outcome, expect_outcome

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup  # noqa: F401


# trio warns when an async generator is garbage collected unfinished (and then finalizes it
# itself). httpx iterates request and response bodies through async generators of its own, and
# a request cancelled midway (what closing the reloader does) abandons them. Nothing leaks:
# the tests below check that every connection is closed.
pytestmark = pytest.mark.filterwarnings(r"ignore:Async generator 'http(x|core)\.:ResourceWarning")


@attrs.frozen
class Db:
    host: str = "localhost"
    port: int = 5432


@attrs.frozen
class Config:
    name: str = "app"
    n: int = 0
    debug: bool = False
    db: Db = Db()
    tags: list[str] = attrs.Factory(list)
    password: trioconf.SecretStr = trioconf.SecretStr("")
    pin: int = trioconf.field(default=0, secret=True)
    limits: dict[str, int] = attrs.Factory(dict)


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[EtcdServer]:
    with etcd_server(tmp_path) as server:
        yield server


@pytest.fixture
def client(etcd: EtcdServer) -> Iterator[Client]:
    c = etcd.client()
    yield c
    c.close()


@pytest.fixture
async def proxy(etcd: EtcdServer) -> AsyncIterator[TcpProxy]:
    async with open_tcp_proxy("127.0.0.1", etcd.client_port) as running:
        yield running


def _url(proxy: TcpProxy) -> str:
    return f"http://127.0.0.1:{proxy.port}"


@contextlib.asynccontextmanager
async def _outcome(live: trioconf.Live[Any]) -> AsyncIterator[Outcome]:
    """``expect_outcome``, bounded: a change the source never reports fails the test."""
    with trio.fail_after(PATIENCE):
        async with expect_outcome(live) as outcome:
            yield outcome


async def _until(live: trioconf.Live[Any], predicate: Any) -> Any:
    with trio.fail_after(PATIENCE):
        return await live.wait_value(predicate)


def _fast(url: str, **options: Any) -> trioconf.Etcd:
    """A source that gives up on a request and retries quickly: the tests break things on
    purpose (a partition black-holes the requests made meanwhile)."""
    options.setdefault("max_backoff", 0.2)
    options.setdefault("request_timeout", 0.5)
    return trioconf.Etcd(url, **options)


async def test_keys_under_the_prefix_are_typed_fields_layered_over_a_file(
    etcd: EtcdServer, client: Client, tmp_path: Path
) -> None:
    base = tmp_path / "base.toml"
    base.write_text('name = "from-file"\n\n[db]\nport = 6000\nhost = "db.local"\n')
    client.put("/app/db/port", "5433")
    client.put("/app/debug", "yes")
    client.put("/app/tags", '["a", "b"]')
    client.put("/other/name", "not ours")
    source = trioconf.Etcd(etcd.url, prefix="/app/")
    async with trioconf.open_reloader(Config, base, source) as live:
        assert live.current == Config(
            name="from-file", debug=True, db=Db(host="db.local", port=5433), tags=["a", "b"]
        )
        assert live.origin("db.port").startswith("etcd key /app/db/port (revision ")
        assert live.origin("db.host") == f"{base}:5"
        assert source.connected
        assert source.stale_since is None
        async with _outcome(live) as outcome:
            revision = client.put("/app/name", "from-etcd")
        assert outcome.applied
        assert live.current.name == "from-etcd"
        assert source.revision == revision
        assert live.origin("name") == f"etcd key /app/name (revision {revision})"
        # Deleted in etcd: the file's value is back.
        async with _outcome(live) as outcome:
            client.delete("/app/db/port")
        assert outcome.applied
        assert live.current.db == Db(host="db.local", port=6000)
        assert live.origin("db.port") == f"{base}:4"


async def test_an_etcd_change_and_a_file_change_in_one_quiet_window_are_one_snapshot(
    etcd: EtcdServer, client: Client, tmp_path: Path
) -> None:
    # A deploy that edits a file and puts a key together: never the new one beside the old
    # other. The window is wide (1 s) so that the two land in it on a loaded machine too.
    base = tmp_path / "base.toml"
    base.write_text('name = "v1"\n')
    client.put("/app/db/port", "5001")
    source = trioconf.Etcd(etcd.url, prefix="/app/")
    seen: list[tuple[str, int]] = []

    def validate(new: Config, old: Config | None) -> None:
        seen.append((new.name, new.db.port))

    async with trioconf.open_reloader(
        Config, base, source, debounce=1.0, max_debounce=2.0, validate=validate
    ) as live:
        async with _outcome(live) as outcome:
            tmp = base.with_name(".base.toml.tmp")
            tmp.write_text('name = "v2"\n')
            tmp.rename(base)
            client.put("/app/db/port", "5002")
        assert outcome.applied
        assert (live.current.name, live.current.db.port) == ("v2", 5002)
        assert live.version == 2
    assert seen == [("v1", 5001), ("v2", 5002)]  # no state with one change and not the other


async def test_the_first_read_is_paginated_and_sees_every_key(
    etcd: EtcdServer, client: Client
) -> None:
    for i in range(7):
        client.put(f"/app/limits/k{i}", str(i))
    source = trioconf.Etcd(etcd.url, prefix="/app/", page_size=2)
    async with trioconf.open_reloader(Config, source) as live:
        assert live.current.limits == {f"k{i}": i for i in range(7)}
        assert live.origin("limits.k6").startswith("etcd key /app/limits/k6 (revision ")


async def test_a_transaction_is_one_version(etcd: EtcdServer, client: Client) -> None:
    async with trioconf.open_reloader(Config, trioconf.Etcd(etcd.url, prefix="/app/")) as live:
        version = live.version
        async with _outcome(live) as outcome:
            client.txn(app__name="txn", app__n="3", app__db__host="h")
        assert outcome.applied
        assert live.version == version + 1
        assert live.current == Config(name="txn", n=3, db=Db(host="h"))


async def test_a_bad_value_is_rejected_naming_the_key_and_the_last_good_stays(
    etcd: EtcdServer, client: Client
) -> None:
    first = client.put("/app/db/port", "5433")
    async with trioconf.open_reloader(Config, trioconf.Etcd(etcd.url, prefix="/app/")) as live:
        async with _outcome(live) as outcome:
            bad = client.put("/app/db/port", "fifty")
        assert isinstance(outcome.error, trioconf.ValidationError)
        assert str(outcome.error) == (
            "1 invalid field:\n"
            f"  etcd key /app/db/port (revision {bad}): db.port: expected an int, got 'fifty'"
        )
        assert live.current.db.port == 5433
        assert live.origin("db.port") == f"etcd key /app/db/port (revision {first})"
        # A key naming no field is an unknown field, as in a file; a secret is not shown.
        async with _outcome(live) as outcome:
            client.txn(app__db__port="1", app__nmae="typo")
        assert outcome.error is not None
        assert "nmae" in str(outcome.error)
        assert "etcd key /app/nmae" in str(outcome.error)
        async with _outcome(live) as outcome:
            client.txn(app__nmae="", app__pin="s3cr3t")
        # (the typo is still there: both are reported, the secret's value is not)
        assert isinstance(outcome.error, trioconf.ValidationError)
        assert "etcd key /app/pin" in str(outcome.error)
        assert "s3cr3t" not in str(outcome.error)
        assert "s3cr3t" not in repr(outcome.error.errors)
        client.delete("/app/nmae")
        client.put("/app/pin", "1234")
        await _until(live, lambda c: c.pin == 1234)


async def test_a_document_under_one_key_and_its_syntax_error_names_key_and_line(
    etcd: EtcdServer, client: Client
) -> None:
    client.put("/app/config.yaml", "name: doc\ndb:\n  port: 7000\n")
    source = trioconf.Etcd(etcd.url, key="/app/config.yaml")
    async with trioconf.open_reloader(Config, source) as live:
        assert live.current == Config(name="doc", db=Db(port=7000))
        revision = source.revision
        assert live.origin("db.port") == f"etcd key /app/config.yaml:3 (revision {revision})"
        async with _outcome(live) as outcome:
            client.put("/app/config.yaml", "name: doc\ndb:\n  port: [7001\n")
        assert isinstance(outcome.error, trioconf.ParseError)
        assert outcome.error.source == "etcd key /app/config.yaml"
        assert outcome.error.line == 4
        assert str(outcome.error).startswith("etcd key /app/config.yaml:4:1: ")
        assert live.current.db.port == 7000
        async with _outcome(live) as outcome:
            client.put("/app/config.yaml", "name: doc\ndb:\n  port: nope\n")
        assert isinstance(outcome.error, trioconf.ValidationError)
        assert "etcd key /app/config.yaml:3" in str(outcome.error)
        async with _outcome(live) as outcome:
            client.delete("/app/config.yaml")
        assert isinstance(outcome.error, trioconf.MissingSourceError)
        assert str(outcome.error).startswith(
            "etcd key /app/config.yaml: the key does not exist (revision "
        )
        client.put("/app/config.yaml", "name: back\n")
        await _until(live, lambda c: c.name == "back")


async def test_a_burst_of_puts_converges_on_the_last_with_revisions_increasing(
    etcd: EtcdServer, client: Client
) -> None:
    seen: list[int] = []

    def validate(new: Config, old: Config | None) -> None:
        seen.append(new.n)

    def burst() -> list[int]:
        return [client.put("/app/n", str(i)) for i in range(1, 1001)]

    source = trioconf.Etcd(etcd.url, prefix="/app/")
    async with trioconf.open_reloader(Config, source, validate=validate) as live:
        revisions = await trio.to_thread.run_sync(burst)
        await _until(live, lambda c: c.n == 1000)
        assert source.revision == revisions[-1]
    # Each value is the put's index, so the values' order is the revisions' order.
    assert seen == sorted(set(seen)), "a revision published twice, or out of order"
    assert seen[0] == 0
    assert seen[-1] == 1000


async def test_etcd_killed_and_restarted_the_watch_resumes_without_loss(
    etcd: EtcdServer, client: Client, proxy: TcpProxy
) -> None:
    client.put("/app/n", "1")
    source = _fast(_url(proxy), prefix="/app/")
    async with trioconf.open_reloader(Config, source) as live:
        assert live.current.n == 1
        proxy.partition()  # the source cannot come back before the test says so
        etcd.kill()
        await wait_until(lambda: not source.connected)
        assert source.stale_since is not None
        assert source.stale_since <= time.time()
        assert "stale since" in live.origin("n")
        etcd.start()
        # Made while the source is away: it must catch up on them, in order, from its revision.
        client.put("/app/n", "2")
        client.put("/app/name", "restarted")
        last = client.delete("/app/n")
        proxy.heal()
        await _until(live, lambda c: c.name == "restarted" and c.n == 0)
        await wait_until(lambda: source.connected)
        assert source.revision == last
        assert source.stale_since is None


async def test_compaction_while_disconnected_reads_everything_again(
    etcd: EtcdServer, client: Client, proxy: TcpProxy
) -> None:
    client.put("/app/n", "1")
    client.put("/app/db/host", "old")
    source = _fast(_url(proxy), prefix="/app/")
    async with trioconf.open_reloader(Config, source) as live:
        proxy.partition()
        await wait_until(lambda: not source.connected)
        client.delete("/app/db/host")
        client.put("/app/n", "2")
        last = client.put("/app/name", "compacted")
        client.compact(last)  # the revisions the watch would resume from are gone
        proxy.heal()
        config = await _until(live, lambda c: c.name == "compacted")
        assert config == Config(name="compacted", n=2)
        assert source.revision == last
        # And it watches on from the new revision.
        async with _outcome(live) as outcome:
            client.put("/app/n", "3")
        assert outcome.applied
        assert live.current.n == 3


async def test_a_silent_stream_is_taken_as_dropped(
    etcd: EtcdServer, client: Client, proxy: TcpProxy
) -> None:
    """A half-open connection: the proxy keeps the watch's connection open and passes nothing
    more on it; new connections go through. Nothing but ``progress_timeout`` can notice."""
    source = _fast(_url(proxy), prefix="/app/", progress_timeout=0.5)
    async with trioconf.open_reloader(Config, source) as live:
        async with _outcome(live):  # a change through it: the watch is open
            client.put("/app/n", "1")
        proxy.partition(cut=False)
        proxy.heal()  # for new connections only: the watch's own stays frozen
        client.put("/app/n", "7")
        await _until(live, lambda c: c.n == 7)


async def test_progress_notifications_keep_an_idle_watch_open(tmp_path: Path) -> None:
    """With etcd sending progress every 100 ms, a watch silent of events for several
    ``progress_timeout`` periods is never reopened."""
    with etcd_server(
        tmp_path, extra=("--experimental-watch-progress-notify-interval=100ms",)
    ) as server:
        async with open_tcp_proxy("127.0.0.1", server.client_port) as relay:
            source = _fast(_url(relay), prefix="/app/", progress_timeout=0.5)
            async with trioconf.open_reloader(Config, source) as live:
                writer = server.client()
                async with _outcome(live):  # a change through it: the watch is open
                    writer.put("/app/n", "1")
                writer.close()
                accepted = relay.accepted
                await trio.sleep(2.0)  # the idle time under test, not a wait for an event
                assert relay.accepted == accepted
                assert source.connected


async def test_an_endpoint_that_does_not_answer_fails_over_to_the_next(
    etcd: EtcdServer, client: Client, proxy: TcpProxy
) -> None:
    """Two ways to one etcd, as two members of a cluster would be: the first partitioned."""
    client.put("/app/n", "1")
    proxy.partition()
    async with open_tcp_proxy("127.0.0.1", etcd.client_port) as second:
        source = _fast([_url(proxy), _url(second)], prefix="/app/")
        async with trioconf.open_reloader(Config, source) as live:
            assert live.current.n == 1
            assert source.endpoint == _url(second)
            # The watch is on the second; losing it too for a moment, it comes back there.
            second.partition()
            await wait_until(lambda: not source.connected)
            client.put("/app/n", "2")
            second.heal()
            await _until(live, lambda c: c.n == 2)
            assert source.endpoint == _url(second)


async def test_etcd_down_at_start_is_a_source_error_naming_the_endpoints() -> None:
    port = _closed_port()
    urls = [f"http://127.0.0.1:{port}", f"http://127.0.0.2:{port}"]
    source = trioconf.Etcd(urls, prefix="/app/", connect_timeout=0.5)
    start = trio.current_time()
    with pytest.raises(trioconf.SourceError) as info:
        async with trioconf.open_reloader(Config, source):
            pass  # pragma: no cover
    elapsed = trio.current_time() - start
    message = str(info.value)
    assert message.startswith(f"etcd {urls[0]},{urls[1]} /app/: etcd did not answer within 0.5 s")
    assert f"{urls[0]}: ConnectError" in message
    assert f"{urls[1]}: ConnectError" in message
    assert 0.5 <= elapsed < 3.0


async def test_bad_credentials_at_start_fail_at_once(tmp_path: Path) -> None:
    with etcd_server(tmp_path) as server:
        _enable_auth(server.client(), "s3cr3t-pw").close()
        source = trioconf.Etcd(server.url, prefix="/app/", username="root", password="wrong")
        with pytest.raises(trioconf.SourceError, match="authentication failed") as info:
            async with trioconf.open_reloader(Config, source):
                pass  # pragma: no cover
        assert "wrong" not in str(info.value)


async def test_auth_token_is_sent_and_renewed(tmp_path: Path) -> None:
    """A restarted etcd has forgotten every simple token (they live in its memory): the
    source's next request is refused, and it authenticates again."""
    with etcd_server(tmp_path) as server:
        before = _enable_auth(server.client(), "s3cr3t-pw")
        before.put("/app/n", "1")
        before.close()
        password = trioconf.SecretStr("s3cr3t-pw")
        source = _fast(server.url, prefix="/app/", username="root", password=password)
        assert "s3cr3t" not in repr(source)
        async with trioconf.open_reloader(Config, source) as live:
            assert live.current.n == 1
            server.kill()
            await wait_until(lambda: not source.connected)
            server.start()
            admin = _login(server.client(), "s3cr3t-pw")
            async with _outcome(live) as outcome:
                admin.put("/app/n", "2")
            assert outcome.applied
            assert live.current.n == 2
            await wait_until(lambda: source.connected)
            admin.close()


async def test_closing_the_reloader_is_prompt_and_leaks_no_connection(
    etcd: EtcdServer, client: Client, proxy: TcpProxy
) -> None:
    client.put("/app/n", "1")
    async with trioconf.open_reloader(Config, _fast(_url(proxy), prefix="/app/")) as live:
        async with _outcome(live):  # a change through it: the watch is open
            client.put("/app/n", "2")
        assert connections_to(proxy.port) == 1  # the watch's (no keep-alive pool)
        start = trio.current_time()
    assert trio.current_time() - start < 0.05
    assert connections_to(proxy.port) == 0


async def test_closing_during_a_hanging_first_read_is_prompt(proxy: TcpProxy) -> None:
    proxy.partition()  # every request is black-holed: the first read does not end on its own

    async def open_it() -> None:
        async with trioconf.open_reloader(Config, trioconf.Etcd(_url(proxy), prefix="/app/")):
            raise AssertionError("the first read cannot succeed")  # pragma: no cover

    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(open_it)
            await wait_until(lambda: connections_to(proxy.port) == 1)  # the range request
            start = trio.current_time()
            scope.cancel()
    assert trio.current_time() - start < 0.05
    assert connections_to(proxy.port) == 0


def test_load_reads_etcd_once(etcd: EtcdServer, client: Client) -> None:
    client.put("/app/db/port", "1234")
    assert trioconf.load(Config, trioconf.Etcd(etcd.url, prefix="/app/")).db.port == 1234


def test_usage_mistakes_are_plain_errors_where_the_source_is_made() -> None:
    url = "http://127.0.0.1:2379"
    with pytest.raises(TypeError, match="one of prefix="):
        trioconf.Etcd(url, prefix="/a/", key="/a/b.yaml")
    with pytest.raises(TypeError, match="one of prefix="):
        trioconf.Etcd(url)
    with pytest.raises(ValueError, match="http:// or https:// URL"):
        trioconf.Etcd("127.0.0.1:2379", prefix="/a/")
    with pytest.raises(ValueError, match="username= and password="):
        trioconf.Etcd("http://root:pw@127.0.0.1:2379", prefix="/a/")
    with pytest.raises(ValueError, match="ending in '/'"):
        trioconf.Etcd(url, prefix="/app")
    with pytest.raises(ValueError, match="cannot tell the format of key '/app/config'"):
        trioconf.Etcd(url, key="/app/config")
    with pytest.raises(ValueError, match="format must be"):
        trioconf.Etcd(url, key="/app/config", format="ini")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="format= is for key="):
        trioconf.Etcd(url, prefix="/a/", format="json")
    with pytest.raises(TypeError, match="password= needs username="):
        trioconf.Etcd(url, prefix="/a/", password="x")
    with pytest.raises(ValueError, match="connect_timeout must be a positive number"):
        trioconf.Etcd(url, prefix="/a/", connect_timeout=0)
    with pytest.raises(ValueError, match="at least one endpoint"):
        trioconf.Etcd([], prefix="/a/")
    source = trioconf.Etcd(
        [url, url + "/"], key="/app/c", format="toml", username="u", password="pw"
    )
    assert repr(source) == f"Etcd({[url, url]!r}, key='/app/c', username='u')"
    assert source.name == f"etcd {url},{url} /app/c"


def test_importing_trioconf_does_not_import_httpx() -> None:
    code = "import sys, trioconf; trioconf.Etcd; assert 'httpx' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def _enable_auth(client: Client, password: str) -> Client:
    client.call("/v3/auth/user/add", {"name": "root", "password": password})
    client.call("/v3/auth/role/add", {"name": "root"})
    client.call("/v3/auth/user/grant", {"user": "root", "role": "root"})
    client.call("/v3/auth/enable", {})
    return _login(client, password)


def _login(client: Client, password: str) -> Client:
    token = client.call("/v3/auth/authenticate", {"name": "root", "password": password})["token"]
    client.close()
    return Client(client.url, token)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens on it once the socket is closed


# -- the command line, and a fleet ---------------------------------------------------------------

SCHEMA = """
import attrs, trioconf

@attrs.frozen
class Db:
    host: str = "localhost"
    port: int = 5432

@attrs.frozen
class Config:
    name: str = "app"
    n: int = 0
    db: Db = Db()
    password: trioconf.SecretStr = trioconf.SecretStr("")
"""


def test_check_reads_an_etcd_prefix_after_the_files(
    etcd: EtcdServer, client: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trioconf._cli import main

    (tmp_path / "schema.py").write_text(SCHEMA)
    base = tmp_path / "base.toml"
    base.write_text('name = "svc"\n[db]\nport = 5432\n')
    revision = client.put("/app/db/port", "6432")
    client.put("/app/password", "hunter2-etcd")
    schema = f"{tmp_path / 'schema.py'}:Config"
    args = ["check", str(base), "--etcd", etcd.url, "--prefix", "/app/", "--schema", schema]
    assert main([*args, "--print"]) == 0
    out, err = capsys.readouterr()
    assert f"db.port  = 6432         # etcd key /app/db/port (revision {revision})" in out
    assert "hunter2-etcd" not in out + err
    assert f"etcd {etcd.url} /app/: syntax is ok" in err
    client.put("/app/db/port", "sixty")
    assert main(args) == 1
    assert "etcd key /app/db/port" in capsys.readouterr().err
    # Usage mistakes: an etcd option without --etcd, or --etcd without a layout.
    assert main(["check", str(base), "--prefix", "/app/", "--schema", schema]) == 2
    assert "--prefix is for an etcd source: give --etcd URL too" in capsys.readouterr().err
    assert main(["check", str(base), "--etcd", etcd.url, "--schema", schema]) == 2
    assert "--etcd: Etcd takes one of prefix=" in capsys.readouterr().err


FOLLOWER = """
import sys, trio, trioconf
sys.path.insert(0, sys.argv[2])
from schema import Config

async def main():
    source = trioconf.Etcd(sys.argv[1], prefix="/app/")
    async with trioconf.open_reloader(Config, source, debounce=0) as live:
        print("ready", flush=True)
        await live.wait_value(lambda c: c.n == int(sys.argv[3]))
        print(live.current.n, live.current.db.port, source.revision, flush=True)

trio.run(main)
"""


async def test_processes_watching_one_prefix_converge_on_one_revision(
    etcd: EtcdServer, client: Client, tmp_path: Path
) -> None:
    (tmp_path / "schema.py").write_text(SCHEMA)
    last = 300
    followers = []
    async with trio.open_nursery() as nursery:
        for _ in range(3):
            process = await trio.lowlevel.open_process(
                [sys.executable, "-c", FOLLOWER, etcd.url, str(tmp_path), str(last)],
                stdout=subprocess.PIPE,
            )
            followers.append(process)
        with trio.fail_after(PATIENCE):
            outputs = [b""] * len(followers)
            for i, process in enumerate(followers):
                assert process.stdout is not None
                while b"\n" not in outputs[i]:  # "ready": its reloader has read etcd
                    outputs[i] += await process.stdout.receive_some(64)

            def writes() -> int:
                revision = 0
                for i in range(1, last + 1):
                    if i % 50 == 0:
                        client.put("/app/db/port", str(6000 + i))
                    revision = client.put("/app/n", str(i))  # last: what the followers wait for
                return revision

            revision = await trio.to_thread.run_sync(writes)
            answers = []
            for i, process in enumerate(followers):
                assert process.stdout is not None
                while chunk := await process.stdout.receive_some(64):
                    outputs[i] += chunk
                assert await process.wait() == 0
                ready, answer = outputs[i].decode().splitlines()
                assert ready == "ready"
                answers.append(answer.split())
        nursery.cancel_scope.cancel()
    # The same etcd revision and the same snapshot in each process (their versions may differ).
    assert answers == [[str(last), str(6000 + last), str(revision)]] * 3


# -- the last-good cache -------------------------------------------------------------------------


def _cached(path: Path) -> dict[str, Any] | None:
    """The cache file's content, None while there is none."""
    try:
        content: dict[str, Any] = json.loads(path.read_bytes())
    except (FileNotFoundError, ValueError):  # (empty: created 0600, not yet written)
        return None
    return content


def _cluster_id(client: Client) -> str:
    answer = client.call("/v3/kv/range", {"key": base64.b64encode(b"/").decode()})
    cluster: str = answer["header"]["cluster_id"]
    return cluster


async def _fill_cache(url: str, path: Path) -> int:
    """A reloader with a cache, run until the cache holds what it read: that revision."""
    source = _fast(url, prefix="/app/", cache=path)
    async with trioconf.open_reloader(Config, source):
        revision = source.revision
        await wait_until(lambda: (_cached(path) or {}).get("revision") == revision)
    return revision


async def test_the_cache_is_written_after_each_change_private_with_revision_and_cluster(
    etcd: EtcdServer, client: Client, tmp_path: Path
) -> None:
    path = tmp_path / "cache" / "etcd.json"
    path.parent.mkdir()
    client.put("/app/n", "1")
    source = trioconf.Etcd(etcd.url, prefix="/app/", cache=path)
    async with trioconf.open_reloader(Config, source) as live:
        first = source.revision
        await wait_until(lambda: (_cached(path) or {}).get("revision") == first)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600  # values may be secrets
        async with _outcome(live) as outcome:
            revision = client.txn(app__n="2", app__password="hunter2")
        assert outcome.applied
        await wait_until(lambda: (_cached(path) or {}).get("revision") == revision)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        cached = _cached(path)
        assert cached is not None
        assert cached["cluster_id"] == _cluster_id(client)
        assert cached["prefix"] == "/app/"
        assert cached["endpoints"] == [etcd.url]
        assert cached["current_at"] <= time.time()
        kvs = {
            base64.b64decode(kv["key"]).decode(): base64.b64decode(kv["value"]).decode()
            for kv in cached["kvs"]
        }
        assert kvs == {"/app/n": "2", "/app/password": "hunter2"}
    # Only the cache and write_atomic's lock sidecar: no temp file left behind.
    assert sorted(os.listdir(path.parent)) == [".etcd.json.lock", "etcd.json"]


async def test_etcd_down_at_start_starts_from_the_last_good_cache_and_converges(
    etcd: EtcdServer,
    client: Client,
    proxy: TcpProxy,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "etcd.json"
    client.txn(app__n="1", app__name="cached")
    source = _fast(_url(proxy), prefix="/app/", cache=path)
    async with trioconf.open_reloader(Config, source) as live:
        good = source.revision
        await wait_until(lambda: (_cached(path) or {}).get("revision") == good)
        # A change that gives no layer is not cached: the cache keeps the last good keys.
        async with _outcome(live) as outcome:
            client.put("/app/db/port", "fifty")
        assert isinstance(outcome.error, trioconf.ValidationError)
    current_at = (_cached(path) or {})["current_at"]
    # Newer than the cache, made while no reloader runs: what the next one must converge on.
    client.put("/app/db/port", "6000")
    last = client.put("/app/n", "2")
    proxy.partition()
    source = _fast(_url(proxy), prefix="/app/", cache=path, connect_timeout=0.5)
    caplog.set_level(logging.INFO, logger="trioconf")
    async with trioconf.open_reloader(Config, source) as live:
        assert live.current == Config(name="cached", n=1)  # db.port: the bad value is not there
        assert not source.connected
        assert source.stale_since == current_at
        assert source.revision == good
        assert "stale since" in live.origin("n")
        (record,) = [r for r in caplog.records if "from the cache" in r.getMessage()]
        assert record.levelno == logging.WARNING
        warning = record.getMessage()
        assert warning.startswith(f"etcd {_url(proxy)} /app/: etcd did not answer within 0.5 s")
        assert f"starting from the cache {path} (revision {good}, current at " in warning
        caplog.clear()
        proxy.heal()
        await _until(live, lambda c: c == Config(name="cached", n=2, db=Db(port=6000)))
        await wait_until(lambda: source.connected)
        assert source.revision == last
        assert source.stale_since is None
        assert f"its keys at revision {last} replace the cache's (revision {good})" in caplog.text
        await wait_until(lambda: (_cached(path) or {}).get("revision") == last)


async def test_a_cache_from_another_cluster_is_discarded_when_etcd_answers(
    etcd: EtcdServer,
    client: Client,
    proxy: TcpProxy,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The same endpoint leads to another cluster (a DNS name moved, a cluster rebuilt): its
    id, not its revision, says the cache is not of it."""
    path = tmp_path / "etcd.json"
    client.put("/app/name", "from-a")
    await _fill_cache(_url(proxy), path)
    (tmp_path / "b").mkdir()
    with etcd_server(tmp_path / "b") as other:
        other_client = other.client()
        revision = other_client.put("/app/name", "from-b")
        other_cluster = _cluster_id(other_client)
        other_client.close()
        assert other_cluster != _cluster_id(client)
        proxy.partition()
        proxy.target = ("127.0.0.1", other.client_port)  # for the connections after heal()
        source = _fast(_url(proxy), prefix="/app/", cache=path, connect_timeout=0.5)
        caplog.set_level(logging.WARNING, logger="trioconf")
        async with trioconf.open_reloader(Config, source) as live:
            assert live.current.name == "from-a"
            proxy.heal()
            await _until(live, lambda c: c.name == "from-b")
            assert source.revision == revision
            assert "another cluster than the cache's" in caplog.text
            assert f"etcd's keys at revision {revision} replace it" in caplog.text
            await wait_until(lambda: (_cached(path) or {}).get("cluster_id") == other_cluster)


async def test_a_cache_not_made_for_this_source_or_corrupt_is_not_used(
    etcd: EtcdServer,
    client: Client,
    proxy: TcpProxy,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Not used, with a warning saying why: then etcd unreachable at start is the SourceError
    it is without a cache, naming the endpoint, and saying why the cache was not used."""
    path = tmp_path / "etcd.json"
    client.put("/app/n", "1")
    await _fill_cache(_url(proxy), path)
    proxy.partition()
    caplog.set_level(logging.WARNING, logger="trioconf")
    elsewhere = f"http://127.0.0.1:{_closed_port()}"
    cases = [
        (_url(proxy), "/other/", "it was made for the prefix /app/, not the prefix /other/"),
        (elsewhere, "/app/", f"it was made for the etcd at {_url(proxy)}"),
    ]
    for url, prefix, why in cases:
        source = _fast(url, prefix=prefix, cache=path, connect_timeout=0.3)
        with pytest.raises(trioconf.SourceError) as info:
            async with trioconf.open_reloader(Config, source):
                pass  # pragma: no cover
        message = str(info.value)
        assert message.startswith(f"etcd {url} {prefix}: etcd did not answer within 0.3 s")
        assert message.endswith(f"; the cache {path} is not used: {why}")
        assert f"the cache {path} is not used: {why}" in caplog.text
    for content, why in [
        (b"", "the file is empty"),
        (b'{"trioconf_etcd_cache": 1, "prefix": "/app/"', "it is not JSON"),
        (b'{"trioconf_etcd_cache": 99}', "it is format 99, this trioconf reads 1"),
        (b'{"name": "app"}', "it is not a trioconf etcd cache"),
    ]:
        path.write_bytes(content)
        caplog.clear()
        source = _fast(_url(proxy), prefix="/app/", cache=path, connect_timeout=0.3)
        with pytest.raises(trioconf.SourceError, match=r"did not answer within 0\.3 s") as info:
            async with trioconf.open_reloader(Config, source):
                pass  # pragma: no cover
        assert f"; the cache {path} is not used: {why}" in str(info.value)
        assert f"the cache {path} is not used: {why}" in caplog.text
    # No cache yet: the error says so.
    path.unlink()
    source = _fast(_url(proxy), prefix="/app/", cache=path, connect_timeout=0.3)
    with pytest.raises(trioconf.SourceError) as info:
        async with trioconf.open_reloader(Config, source):
            pass  # pragma: no cover
    assert str(info.value).endswith(f"; no cache at {path} yet")


def test_cache_usage_mistakes_are_plain_errors(tmp_path: Path) -> None:
    url = "http://127.0.0.1:2379"
    with pytest.raises(TypeError, match="cache must be a file's path, not 3"):
        trioconf.Etcd(url, prefix="/a/", cache=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cache must be a file's path, not ''"):
        trioconf.Etcd(url, prefix="/a/", cache="")
    assert trioconf.Etcd(url, prefix="/a/").cache is None
    assert trioconf.Etcd(url, prefix="/a/", cache=tmp_path / "c.json").cache == str(
        tmp_path / "c.json"
    )


async def test_a_document_starts_from_the_cache_too(
    etcd: EtcdServer, client: Client, proxy: TcpProxy, tmp_path: Path
) -> None:
    path = tmp_path / "etcd.json"
    client.put("/app/config.yaml", "name: doc\ndb:\n  port: 7000\n")
    source = _fast(_url(proxy), key="/app/config.yaml", cache=path)
    async with trioconf.open_reloader(Config, source):
        revision = source.revision
        await wait_until(lambda: (_cached(path) or {}).get("revision") == revision)
    assert (_cached(path) or {})["key"] == "/app/config.yaml"
    proxy.partition()
    source = _fast(_url(proxy), key="/app/config.yaml", cache=path, connect_timeout=0.3)
    async with trioconf.open_reloader(Config, source) as live:
        assert live.current == Config(name="doc", db=Db(port=7000))
        assert live.origin("db.port").startswith(
            f"etcd key /app/config.yaml:3 (revision {revision}), stale since "
        )
        client.put("/app/config.yaml", "name: doc\ndb:\n  port: 7001\n")
        proxy.heal()
        await _until(live, lambda c: c.db.port == 7001)


async def test_on_the_cache_an_etcd_that_refuses_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """etcd comes back, but the credentials no longer work: the source stays on the cache
    (there is nothing better) and says so, once, instead of retrying in silence."""
    path = tmp_path / "etcd.json"
    with etcd_server(tmp_path) as server:
        admin = _enable_auth(server.client(), "s3cr3t-pw")
        admin.put("/app/n", "1")
        admin.close()
        async with open_tcp_proxy("127.0.0.1", server.client_port) as relay:
            options: dict[str, Any] = {"prefix": "/app/", "username": "root", "cache": path}
            source = _fast(_url(relay), password="s3cr3t-pw", **options)
            async with trioconf.open_reloader(Config, source):
                revision = source.revision
                await wait_until(lambda: (_cached(path) or {}).get("revision") == revision)
            relay.partition()
            caplog.set_level(logging.WARNING, logger="trioconf")
            source = _fast(_url(relay), password="rotated", connect_timeout=0.3, **options)
            async with trioconf.open_reloader(Config, source) as live:
                assert live.current.n == 1
                relay.heal()
                await wait_until(lambda: "still on the cache, etcd refused" in caplog.text)
                assert "authentication failed" in caplog.text
                assert "rotated" not in caplog.text
                tried = relay.accepted
                await wait_until(lambda: relay.accepted >= tried + 3)  # it keeps trying...
                assert caplog.text.count("still on the cache") == 1  # ...and said it once
                assert not source.connected
                assert live.current.n == 1


# -- TLS -------------------------------------------------------------------------------------


async def test_tls_with_a_client_certificate(tmp_path: Path) -> None:
    from etcd_server import Certificates

    tls = Certificates(tmp_path / "pki")
    with etcd_server(tmp_path, tls=tls) as server:
        writer = server.client()
        writer.put("/app/db/port", "6432")
        assert server.url.startswith("https://")
        # The CA's path and the client's certificate and key, as an operator hands them out.
        source = _fast(
            server.url,
            prefix="/app/",
            verify=str(tls.ca),
            cert=(str(tls.client), str(tls.client_key)),
        )
        async with trioconf.open_reloader(Config, source, debounce=0) as live:
            assert live.current.db.port == 6432
            async with _outcome(live) as outcome:
                writer.put("/app/db/port", "7432")
            assert outcome.applied
            assert live.current.db.port == 7432
        # An SSLContext serves as well.
        context = tls.client_context()
        assert (await _load(_fast(server.url, prefix="/app/", verify=context))).db.port == 7432
        # Without the client certificate etcd refuses; with the system's CAs the server's
        # certificate is not trusted: either way a SourceError naming the endpoint, at start,
        # raised plain by load() (not in the group of the nursery it runs the source in).
        for options in ({"verify": str(tls.ca)}, {"cert": (str(tls.client), str(tls.client_key))}):
            with pytest.raises(trioconf.SourceError) as info:
                await _load(_fast(server.url, prefix="/app/", connect_timeout=1, **options))
            assert server.url in str(info.value)
        writer.close()


async def _load(source: trioconf.Etcd) -> Config:
    # load() runs Trio itself: in a thread of its own, not inside this test's run.
    return await trio.to_thread.run_sync(trioconf.load, Config, source)
