"""Fixtures for the sf room: settings for a fake org and a client whose retries never really sleep."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import responses
import structlog
from pydantic import SecretStr

from connector.config.salesforce import SalesforceSettings
from connector.sf.client import SalesforceClient
from connector.sf.policy import RetryPolicy

LOGIN = "https://login.example.com"
INSTANCE = "https://org.example.com"
BASE = f"{INSTANCE}/services/data/v62.0/"
TOKEN_URL = f"{LOGIN}/services/oauth2/token"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def limit_header(used: int, total: int = 15000) -> dict[str, str]:
    """A Sforce-Limit-Info header as the org sends it."""
    return {"Sforce-Limit-Info": f"api-usage={used}/{total}"}


@pytest.fixture(autouse=True)
def _default_logging() -> Iterator[None]:
    """Undo any `main()` logging setup: it binds the stderr of a test that has ended."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture
def sf_settings() -> SalesforceSettings:
    """Client-credentials settings pointing at the fake login URL."""
    return SalesforceSettings(
        login_url=LOGIN, auth="client_credentials", client_id="cid", client_secret=SecretStr("s3cret-value")
    )


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """responses, with every registered URL required to be called unless a test says otherwise."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def sleeps() -> list[float]:
    """The waits the retry policy asked for (recorded, never slept)."""
    return []


@pytest.fixture
def client(
    sf_settings: SalesforceSettings, rsps: responses.RequestsMock, sleeps: list[float]
) -> SalesforceClient:
    """A client whose login answers with token `tok-1` (then `tok-2`, ...)."""
    issued = iter(range(1, 1000))
    rsps.add_callback(
        responses.POST,
        TOKEN_URL,
        callback=lambda _req: (
            200,
            {},
            f'{{"access_token": "tok-{next(issued)}", "instance_url": "{INSTANCE}"}}',
        ),
    )
    return SalesforceClient(
        sf_settings, sleep=sleeps.append, clock=lambda: NOW, retry=RetryPolicy(attempts=4)
    )
