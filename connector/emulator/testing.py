"""Start an emulator inside a test: `with running_emulator() as em: ...` (HTTPS on 127.0.0.1, port 0).

`em.org` is the `Emulator` handle (seed, records, clock, faults, call counters); `em.session()` is a
`requests.Session` that trusts the emulator's CA (with `trust_env = False`, so `REQUESTS_CA_BUNDLE` in
the environment cannot override it); `em.salesforce()` is an unmodified simple-salesforce client on a
fresh client-credentials session.
"""

from __future__ import annotations

import base64
import functools
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from connector.config.salesforce import ObjectMapping, SalesforceSettings
from connector.emulator.org import DEFAULT_API_VERSION, Emulator, OrgSettings
from connector.emulator.server import JWT_KEY, EmulatorServer, load_or_make_jwt_key
from connector.emulator.values import Clock
from connector.paths import write_private


@functools.cache
def _shared_jwt_key() -> bytes:
    """One RSA key per test process: generating one per test would cost ~0.1 s each."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass
class RunningEmulator:
    """A started emulator: where it is, its credentials, and the `org` handle."""

    org: Emulator
    server: EmulatorServer
    login_url: str
    instance_url: str
    ca_bundle: Path
    client_id: str
    client_secret: str
    username: str
    jwt_private_key: Path
    api_version: str = DEFAULT_API_VERSION

    def session(self, timeout: float | None = None) -> requests.Session:
        """A requests session that trusts only the emulator's CA."""
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override `verify`
        session.verify = str(self.ca_bundle)
        if timeout is not None:
            session.request = functools.partial(session.request, timeout=timeout)  # type: ignore[method-assign]
        return session

    def token(self, session: requests.Session | None = None) -> dict[str, Any]:
        """A client-credentials token response (`access_token`, `instance_url`, ...)."""
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        response = (session or self.session()).post(
            self.login_url + "/services/oauth2/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def connector_settings(self, **overrides: Any) -> SalesforceSettings:
        """The connector's `[salesforce]` settings for this org: client credentials, trusting only its CA."""
        values: dict[str, Any] = {
            "login_url": self.login_url,
            "auth": "client_credentials",
            "client_id": self.client_id,
            "client_secret": SecretStr(self.client_secret),
            "ca_bundle": self.ca_bundle,
            "api_version": self.api_version,
            "environment": self.org.settings.environment,
        }
        return SalesforceSettings(**(values | overrides))

    def salesforce(self, session: requests.Session | None = None) -> Any:
        """A simple-salesforce client on a fresh session (imported lazily: only tests need it)."""
        from simple_salesforce.api import Salesforce

        session = session or self.session()
        token = self.token(session)
        return Salesforce(
            session_id=token["access_token"],
            instance_url=token["instance_url"],
            session=session,
            version=self.api_version,
        )


@contextmanager
def running_emulator(
    *,
    seed: str = "empty",
    state_dir: Path | None = None,
    state_file: Path | None = None,
    mapping: ObjectMapping | None = None,
    settings: OrgSettings | None = None,
    clock: Clock | None = None,
) -> Iterator[RunningEmulator]:
    """Run an emulator on 127.0.0.1 (free port) for the duration of the block."""
    with tempfile.TemporaryDirectory(prefix="sf-emulator-") as tmp:
        folder = state_dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        key_path = folder / JWT_KEY
        if not key_path.exists():
            write_private(key_path, _shared_jwt_key().decode())  # a key others can read is refused
        key_path, public_pem = load_or_make_jwt_key(folder)
        settings = settings or OrgSettings()
        settings.jwt_public_key = settings.jwt_public_key or public_pem
        org = Emulator(mapping=mapping, settings=settings, clock=clock, state_file=state_file)
        if seed != "empty":
            org.seed(seed)
        server = EmulatorServer(org, folder)
        server.jwt_key_path = key_path
        end = server.start()
        try:
            yield RunningEmulator(
                org, server, end.login_url, end.instance_url, end.ca_bundle, end.client_id, end.client_secret,
                end.username, key_path,
            )  # fmt: skip
        finally:
            server.stop()
