"""Serve an `Emulator` over HTTPS on 127.0.0.1 with a certificate from a local test CA.

The CA (made with trustme) is written to the state folder and reused on the next start, so a config
that names its bundle keeps working across emulator restarts. With a state file the org is saved
every second while it changes and once more on stop.
"""

from __future__ import annotations

import contextlib
import io
import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from connector.emulator.app import make_app
from connector.emulator.org import Emulator
from connector.paths import write_private

CA_CERT = "emulator-ca.pem"
CA_KEY = "emulator-ca.key"
JWT_KEY = "emulator-jwt-key.pem"
SAVE_EVERY_SECONDS = 1.0


IDLE_SECONDS = 30.0  # a keep-alive connection idle this long is closed, as a load balancer would


class _Handler(WSGIRequestHandler):
    """HTTP/1.1 with keep-alive, as Salesforce serves; no per-request access log.

    Werkzeug's dev server closes every connection because it cannot tell how much of a request body the
    application left unread. Here each body is read whole before the application sees it, so the next
    request on the connection starts where it should and `Connection: close` is sent only when the
    client asked for it.
    """

    protocol_version = "HTTP/1.1"
    timeout = IDLE_SECONDS

    server: _Server

    def setup(self) -> None:
        """Register the connection, so stopping the server can close it."""
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and the client's
        # delayed ACK hold every response on a kept-alive connection for ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.open_connections.add(self.connection)

    def finish(self) -> None:
        """Forget the connection."""
        self.server.open_connections.discard(self.connection)
        super().finish()

    def run_wsgi(self) -> None:
        """Werkzeug's request cycle, with the connection's reader put back afterwards."""
        connection_reader = self.rfile
        try:
            super().run_wsgi()
        finally:
            self.rfile = connection_reader

    def make_environ(self) -> Any:
        """Werkzeug's environ with the request body already read (the connection stays in step).

        After the response werkzeug drains "what is left" of the request from `rfile`, which on a kept-alive
        connection is the client's next request: so `rfile` is an empty stream until `run_wsgi` ends.
        """
        environ = super().make_environ()
        if environ.get("wsgi.input_terminated"):
            # Chunked: DechunkedInput reads to the last chunk; the stream stays "terminated" (read to
            # its end), which is how werkzeug reads a body that has no Content-Length.
            body = environ["wsgi.input"].read()
        else:
            body = self.rfile.read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = io.BytesIO(body)
        self.rfile = io.BytesIO()
        return environ

    def send_header(self, keyword: str, value: str) -> None:
        """Drop werkzeug's unconditional `Connection: close` unless the client asked to close."""
        if keyword.lower() == "connection" and value.lower() == "close" and not self.close_connection:
            return
        super().send_header(keyword, value)

    def log(self, type: str, message: str, *args: Any) -> None:
        """Drop werkzeug's access log line."""


class _Server(ThreadedWSGIServer):
    """One thread per connection; idle kept-alive connections are closed on stop, never waited for."""

    block_on_close = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.open_connections: set[socket.socket] = set()

    def close_connections(self) -> None:
        """Shut every open connection, so a client's pooled one ends with the server."""
        for conn in list(self.open_connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


@dataclass(frozen=True)
class Endpoint:
    """Where a running emulator is and how to log in to it."""

    login_url: str
    instance_url: str
    ca_bundle: Path
    client_id: str
    client_secret: str
    username: str
    jwt_private_key: Path | None
    environment: str = "sandbox"  # production or sandbox: the JWT audience the org accepts

    def as_json(self) -> dict[str, str]:
        """The `--print-json` object."""
        return {
            "login_url": self.login_url,
            "instance_url": self.instance_url,
            "ca_bundle": str(self.ca_bundle),
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "username": self.username,
            "jwt_private_key": str(self.jwt_private_key or ""),
            "environment": self.environment,
        }


def load_or_make_ca(folder: Path) -> trustme.CA:
    """The emulator's test CA from `folder`, created (and written there) on first use."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / CA_CERT, folder / CA_KEY
    if cert.exists() and key.exists():
        return trustme.CA.from_pem(cert.read_bytes(), key.read_bytes())
    ca = trustme.CA(organization_name="msr-engage emulator")
    ca.cert_pem.write_to_path(str(cert))
    write_private(key, ca.private_key_pem.bytes().decode())
    return ca


def load_or_make_jwt_key(folder: Path) -> tuple[Path, str]:
    """(private key path, public key PEM) of the connected app's JWT certificate, created on first use."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / JWT_KEY
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        write_private(path, pem.decode())  # 0600 from the first byte
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return path, public.decode()


class EmulatorServer:
    """An `Emulator` served over HTTPS in a background thread; `start()` / `stop()`."""

    def __init__(self, emu: Emulator, state_dir: Path, *, port: int = 0, host: str = "127.0.0.1") -> None:
        self.emu = emu
        self.state_dir = state_dir
        self.host = host
        self.port = port
        self.jwt_key_path: Path | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._saver: threading.Thread | None = None

    def start(self) -> Endpoint:
        """Bind, start serving in a thread and return the endpoint (well under a second)."""
        ca = load_or_make_ca(self.state_dir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert(self.host, "localhost").configure_cert(context)
        server = _Server(self.host, self.port, make_app(self.emu), _Handler, ssl_context=context)
        self._server = server
        self.port = server.server_port
        self.emu.base_url = f"https://{self.host}:{self.port}"
        # A short poll interval makes stop() quick: shutdown waits for the serve loop's next poll.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="sf-emulator", daemon=True
        )
        self._thread.start()
        if self.emu.state_file is not None:
            self._saver = threading.Thread(target=self._save_loop, name="sf-emulator-save", daemon=True)
            self._saver.start()
        return self.endpoint()

    def endpoint(self) -> Endpoint:
        """How to reach and log in to this emulator."""
        s = self.emu.settings
        return Endpoint(
            self.emu.base_url, self.emu.base_url, self.state_dir / CA_CERT, s.client_id, s.client_secret,
            s.username, self.jwt_key_path, s.environment,
        )  # fmt: skip

    def stop(self) -> None:
        """Stop serving, then save the org once more (when it has a state file)."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._saver is not None:
            self._saver.join(timeout=5)
        self.emu.save()

    def _save_loop(self) -> None:
        while not self._stopping.wait(SAVE_EVERY_SECONDS):
            if self.emu.store.dirty:
                self.emu.save()
