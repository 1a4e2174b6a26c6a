"""JWT bearer by Salesforce's rule: the audience names the environment (login.salesforce.com for
production, test.salesforce.com for a sandbox), never the login URL, also through a My Domain."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from connector.config.salesforce import SalesforceSettings
from connector.emulator.org import OrgSettings
from connector.emulator.testing import RunningEmulator, running_emulator
from connector.errors import AuthError
from connector.sf.auth import TimeoutSession
from connector.sf.client import SalesforceClient

SANDBOX_MY_DOMAIN = "https://agency--uat.sandbox.my.salesforce.com"
PRODUCTION_MY_DOMAIN = "https://agency.my.salesforce.com"


class MyDomainOnLoopback(TimeoutSession):
    """Sends what is addressed to a My Domain host to the emulator on 127.0.0.1 (a hosts-file entry,
    in effect: nothing leaves loopback, and the connector's request is otherwise untouched)."""

    def __init__(self, em: RunningEmulator, my_domain: str) -> None:
        super().__init__((5.0, 30.0), str(em.ca_bundle))
        self.target, self.my_domain, self.seen = em.login_url, my_domain, []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        """Record the URL the connector addressed, then send it to the emulator."""
        text = url.decode() if isinstance(url, bytes) else url
        self.seen.append(text)
        return super().request(method, text.replace(self.my_domain, self.target), *args, **kwargs)


def _settings(em: RunningEmulator, login_url: str, **more: Any) -> SalesforceSettings:
    return SalesforceSettings(
        login_url=login_url, auth="jwt", client_id=em.client_id, username=em.username,
        private_key_file=em.jwt_private_key, ca_bundle=em.ca_bundle, api_version=em.api_version, **more,
    )  # fmt: skip


@pytest.fixture
def sandbox() -> Iterator[RunningEmulator]:
    """An emulator configured as a sandbox org."""
    with running_emulator(settings=OrgSettings(environment="sandbox")) as running:
        yield running


@pytest.fixture
def production() -> Iterator[RunningEmulator]:
    """An emulator configured as a production org."""
    with running_emulator(settings=OrgSettings(environment="production")) as running:
        yield running


def _client(em: RunningEmulator, settings: SalesforceSettings, my_domain: str) -> SalesforceClient:
    return SalesforceClient(settings, session=MyDomainOnLoopback(em, my_domain))


def test_a_my_domain_sandbox_login_sends_the_sandbox_audience_and_gets_in(sandbox: RunningEmulator) -> None:
    settings = _settings(sandbox, SANDBOX_MY_DOMAIN, environment="sandbox")
    assert settings.audience == "https://test.salesforce.com"
    client = _client(sandbox, settings, SANDBOX_MY_DOMAIN)
    client.connect()
    assert client.session.seen == [SANDBOX_MY_DOMAIN + "/services/oauth2/token"]  # type: ignore[attr-defined]
    assert "DailyApiRequests" in client.limits()
    assert client.org_id.startswith("00D")


def test_an_assertion_whose_audience_is_the_login_url_is_refused_as_salesforce_refuses_it(
    sandbox: RunningEmulator,
) -> None:
    settings = _settings(sandbox, SANDBOX_MY_DOMAIN, environment="sandbox", jwt_audience=SANDBOX_MY_DOMAIN)
    with pytest.raises(AuthError, match=r"invalid_grant \(audience is invalid\)"):
        _client(sandbox, settings, SANDBOX_MY_DOMAIN).connect()


def test_the_environment_names_the_audience_whatever_the_url(production: RunningEmulator) -> None:
    good = _settings(production, PRODUCTION_MY_DOMAIN, environment="production")
    client = _client(production, good, PRODUCTION_MY_DOMAIN)
    client.connect()
    assert client.logins == 1
    wrong = _settings(production, PRODUCTION_MY_DOMAIN, environment="sandbox")
    with pytest.raises(AuthError, match="audience is invalid"):
        _client(production, wrong, PRODUCTION_MY_DOMAIN).connect()


@pytest.mark.parametrize(
    ("login_url", "environment"),
    [
        ("https://test.salesforce.com", "sandbox"),
        ("https://agency--uat.sandbox.my.salesforce.com", "sandbox"),
        ("https://login.salesforce.com", "production"),
        ("https://agency.my.salesforce.com", "production"),
    ],
)
def test_without_an_environment_the_login_url_names_it(login_url: str, environment: str) -> None:
    settings = SalesforceSettings(login_url=login_url, auth="client_credentials", client_id="x",
                                  client_secret=SecretStr("s"))  # fmt: skip
    assert settings.org_environment == environment
    explicit = settings.model_copy(update={"environment": "production"})
    assert explicit.audience == "https://login.salesforce.com"
