"""A real etcd for the tests: started on 127.0.0.1 with free ports and a data dir of its own,
killed and restarted on demand (the tests put ``tcp_proxy.TcpProxy`` between it and trioconf to
partition them).

``Client`` is what another program would use to change etcd: the JSON gateway, over httpx's
blocking client (fine in a test; the requests go to a local process that answers at once).
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ETCD = "/usr/bin/etcd"
STARTUP = 30.0  # seconds etcd may take to answer (a slow CI machine, a big data dir)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


class Certificates:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl
    (what an operator's PKI would hand out), for etcd's TLS and client-certificate auth."""

    def __init__(self, folder: Path) -> None:
        if shutil.which("openssl") is None:
            pytest.skip("openssl is not installed")
        folder.mkdir(parents=True, exist_ok=True)
        self.ca, self.ca_key = folder / "ca.crt", folder / "ca.key"
        self.server, self.server_key = folder / "server.crt", folder / "server.key"
        self.client, self.client_key = folder / "client.crt", folder / "client.key"
        # The extensions a real CA has, which Python 3.13's strict verification requires
        # (VERIFY_X509_STRICT: "CA cert does not include key usage extension" otherwise).
        self._openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=trioconf test CA", "-keyout", self.ca_key, "-out", self.ca,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-addext", "subjectKeyIdentifier=hash",
        )  # fmt: skip
        self._signed(folder, "server", self.server, self.server_key, "IP:127.0.0.1")
        self._signed(folder, "client", self.client, self.client_key, None)

    def _signed(self, folder: Path, name: str, crt: Path, key: Path, san: str | None) -> None:
        csr = folder / f"{name}.csr"
        self._openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
            "-keyout", key, "-out", csr,
        )  # fmt: skip
        extensions = folder / f"{name}.ext"
        # The server's for both: etcd's gateway calls etcd's gRPC with the server certificate.
        usage = "serverAuth, clientAuth" if san else "clientAuth"
        extensions.write_text(
            "basicConstraints = CA:FALSE\n"
            "keyUsage = critical, digitalSignature, keyEncipherment\n"
            "authorityKeyIdentifier = keyid\n"
            f"extendedKeyUsage = {usage}\n" + (f"subjectAltName = {san}\n" if san else "")
        )
        self._openssl(
            "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key,
            "-CAcreateserial", "-days", "2", "-extfile", extensions, "-out", crt,
        )  # fmt: skip

    def client_context(self) -> ssl.SSLContext:
        """What a client with the client certificate trusts and shows."""
        context = ssl.create_default_context(cafile=str(self.ca))
        context.load_cert_chain(str(self.client), str(self.client_key))
        return context

    @staticmethod
    def _openssl(*args: str | Path) -> None:
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


class EtcdServer:
    def __init__(
        self, data_dir: Path, *, extra: tuple[str, ...] = (), tls: Certificates | None = None
    ) -> None:
        if not os.path.exists(ETCD):
            pytest.skip(f"{ETCD} is not installed (apt-get install etcd-server; .ci/run does)")
        self.data_dir = data_dir
        self.client_port = _free_port()
        self.peer_port = _free_port()
        scheme = "http" if tls is None else "https"
        self.url = f"{scheme}://127.0.0.1:{self.client_port}"
        self.tls = tls
        if tls is not None:
            # Served over TLS, and only to clients with a certificate the CA signed.
            extra = (
                *extra,
                f"--cert-file={tls.server}",
                f"--key-file={tls.server_key}",
                f"--trusted-ca-file={tls.ca}",
                "--client-cert-auth",
            )
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"{data_dir.name}.log"

    def start(self) -> None:
        peer = f"http://127.0.0.1:{self.peer_port}"
        args = [
            ETCD,
            "--name=test",
            f"--data-dir={self.data_dir}",
            f"--listen-client-urls={self.url}",
            f"--advertise-client-urls={self.url}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=test={peer}",
            "--heartbeat-interval=10",
            "--election-timeout=100",
            *self.extra,
        ]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Until etcd answers a read (a leader elected), polling: there is no event to wait on."""
        deadline = time.monotonic() + STARTUP
        tls = self.tls
        verify: bool | ssl.SSLContext = True if tls is None else tls.client_context()
        with httpx.Client(timeout=1.0, verify=verify) as http:
            while True:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(f"etcd exited: see {self.log}")
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    answer = http.post(f"{self.url}/v3/kv/range", json={"key": _b64("ready")})
                    # Answered, and not "Unavailable" (no leader yet); with auth enabled a read
                    # without a token is refused, which says etcd is up just as well.
                    if answer.status_code == 200 or answer.json().get("code") not in (None, 14):
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"etcd did not answer within {STARTUP} s: see {self.log}")
                time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self.process = None

    def client(self, token: str | None = None) -> Client:
        return Client(self.url, token, True if self.tls is None else self.tls.client_context())


class Client:
    """Another program changing etcd through its gateway."""

    def __init__(
        self, url: str, token: str | None = None, verify: bool | ssl.SSLContext = True
    ) -> None:
        self.url = url
        self.http = httpx.Client(timeout=10.0, verify=verify)
        self.headers = {} if token is None else {"Authorization": token}

    def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.http.post(self.url + path, json=body, headers=self.headers)
        data: dict[str, Any] = answer.json()
        assert answer.status_code == 200, data
        return data

    def put(self, key: str, value: str | bytes) -> int:
        """Put, and return the revision the put made."""
        answer = self.call("/v3/kv/put", {"key": _b64(key), "value": _b64(value)})
        return int(answer["header"]["revision"])

    def delete(self, key: str) -> int:
        return int(self.call("/v3/kv/deleterange", {"key": _b64(key)})["header"]["revision"])

    def txn(self, **puts: str) -> int:
        """One transaction putting every ``key=value`` (``app__db__port`` for ``/app/db/port``)."""
        ops = [
            {"request_put": {"key": _b64("/" + k.replace("__", "/")), "value": _b64(v)}}
            for k, v in puts.items()
        ]
        return int(self.call("/v3/kv/txn", {"success": ops})["header"]["revision"])

    def compact(self, revision: int) -> None:
        self.call("/v3/kv/compaction", {"revision": str(revision), "physical": True})

    def close(self) -> None:
        self.http.close()


@contextlib.contextmanager
def etcd_server(
    tmp_path: Path, *, extra: tuple[str, ...] = (), tls: Certificates | None = None
) -> Iterator[EtcdServer]:
    server = EtcdServer(tmp_path / "etcd", extra=extra, tls=tls)
    try:
        server.start()
        yield server
    finally:
        server.kill()
        shutil.rmtree(server.data_dir, ignore_errors=True)


def connections_to(port: int) -> int:
    """This process's open TCP connections to ``port`` on 127.0.0.1 (its sockets, matched by
    inode against the kernel's table): what a client has not closed."""
    mine = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:["):
                mine.add(target[len("socket:[") : -1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            next(rows)
            for row in rows:
                fields = row.split()
                if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[9] in mine:
                    count += 1
    return count
