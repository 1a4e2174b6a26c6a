"""The client's error policy at HTTP level: classifier, retries, re-auth once, breaker, budget, secrets."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
import requests
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from structlog.testing import capture_logs

from connector.config.salesforce import ObjectMapping, SalesforceSettings
from connector.errors import (
    ApiLimitError,
    AuthError,
    BudgetExceededError,
    MappingError,
    QueryLocatorError,
    QueryTimeoutError,
    SalesforceRequestError,
    SessionExpiredError,
    TransientError,
)
from connector.sf.auth import build_session, fetch_token, token_request
from connector.sf.client import SalesforceClient
from connector.sf.policy import ApiUsage, budget_problem, classify, mapping_hints
from tests.sf.conftest import BASE, NOW, TOKEN_URL, limit_header

HINTS = mapping_hints(ObjectMapping())


def err(code: str, message: str = "m") -> list[dict[str, str]]:
    """A Salesforce error body."""
    return [{"errorCode": code, "message": message}]


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (401, err("INVALID_SESSION_ID"), SessionExpiredError),
        (403, err("REQUEST_LIMIT_EXCEEDED"), ApiLimitError),
        (400, err("QUERY_TIMEOUT"), QueryTimeoutError),
        (400, err("INVALID_QUERY_LOCATOR"), QueryLocatorError),
        (503, "Service Unavailable", TransientError),
        (500, err("UNKNOWN_EXCEPTION"), TransientError),
        (429, "", TransientError),
        (420, "", TransientError),
        (406, "", TransientError),
        (400, err("INVALID_FIELD"), MappingError),
        (400, err("MALFORMED_QUERY"), MappingError),
        (403, err("INSUFFICIENT_ACCESS"), MappingError),
        (403, err("API_DISABLED_FOR_ORG"), MappingError),
        (404, err("NOT_FOUND"), MappingError),
        (400, err("DUPLICATE_VALUE"), SalesforceRequestError),
    ],
)
def test_classifier_follows_the_error_table(status: int, body: object, kind: type[Exception]) -> None:
    assert type(classify(status, body)) is kind


def test_config_error_names_the_mapping_key_to_fix() -> None:
    error = classify(400, err("INVALID_FIELD", "No such column 'Lead_Score__c' on entity 'Contact'."), HINTS)
    assert "salesforce.objects.contact.score" in str(error)


def test_unknown_object_names_the_object_key() -> None:
    error = classify(404, err("NOT_FOUND", "sObject type 'Website_Visit__c' is not supported."), HINTS)
    assert "salesforce.objects.website_visit.object" in str(error)


def test_login_and_calls_use_the_fresh_session(
    client: SalesforceClient, rsps: responses.RequestsMock
) -> None:
    rsps.get(BASE + "limits/", json={"DailyApiRequests": {"Max": 15000}}, headers=limit_header(10))
    assert client.limits()["DailyApiRequests"]["Max"] == 15000
    assert rsps.calls[-1].request.headers["Authorization"] == "Bearer tok-1"
    assert client.usage == ApiUsage(10, 15000)


def test_503_burst_is_ridden_out_with_growing_backoff(
    client: SalesforceClient, rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    for _ in range(3):
        rsps.get(BASE + "limits/", status=503, body="busy")
    rsps.get(BASE + "limits/", json={"ok": 1})
    assert client.limits() == {"ok": 1}
    assert len(sleeps) == 3
    assert sleeps[0] < sleeps[2]  # exponential, even with up to 1 s of jitter


def test_network_error_on_a_read_is_retried(client: SalesforceClient, rsps: responses.RequestsMock) -> None:
    rsps.get(BASE + "limits/", body=requests.ConnectionError("reset"))
    rsps.get(BASE + "limits/", json={"ok": 1})
    assert client.limits() == {"ok": 1}


def test_a_write_that_is_not_idempotent_is_not_retried(
    client: SalesforceClient, rsps: responses.RequestsMock
) -> None:
    rsps.post(BASE + "jobs/ingest", status=503, body="busy")
    with pytest.raises(TransientError):
        client.send("POST", "jobs/ingest", {"object": "Contact"}, idempotent=False)
    assert sum(call.request.method == "POST" and "jobs" in call.request.url for call in rsps.calls) == 1


def test_retries_stop_after_the_policy_s_attempts(
    client: SalesforceClient, rsps: responses.RequestsMock
) -> None:
    rsps.get(BASE + "limits/", status=500, body="down")
    with pytest.raises(TransientError):
        client.limits()
    assert client.calls == 4


def test_expired_session_reauthenticates_once(client: SalesforceClient, rsps: responses.RequestsMock) -> None:
    rsps.get(BASE + "limits/", status=401, json=err("INVALID_SESSION_ID", "Session expired or invalid"))
    rsps.get(BASE + "limits/", json={"ok": 1})
    assert client.limits() == {"ok": 1}
    assert client.logins == 2
    assert rsps.calls[-1].request.headers["Authorization"] == "Bearer tok-2"


def test_a_second_expired_session_in_a_row_is_fatal(
    client: SalesforceClient, rsps: responses.RequestsMock
) -> None:
    rsps.get(BASE + "limits/", status=401, json=err("INVALID_SESSION_ID"))
    with pytest.raises(AuthError, match="twice in a row"):
        client.limits()
    assert client.logins == 2  # no loop (simple-salesforce issue #804)


def test_request_limit_exceeded_opens_the_breaker_without_retrying(
    client: SalesforceClient, rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(
        BASE + "limits/", status=403, json=err("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
    )
    with pytest.raises(ApiLimitError) as raised:
        client.limits()
    assert sleeps == []
    assert raised.value.open_until == NOW + timedelta(hours=1)
    assert client.breaker.open_until == NOW + timedelta(hours=1)
    sent = client.calls
    with capture_logs() as logs, pytest.raises(ApiLimitError):
        client.start_cycle()
    assert client.calls == sent
    assert logs[0]["event"] == "sf_cycle_skipped"
    assert logs[0]["retry_at"] == NOW + timedelta(hours=1)


def test_a_restored_breaker_state_is_honoured(sf_settings: SalesforceSettings) -> None:
    client = SalesforceClient(sf_settings, clock=lambda: NOW, breaker_open_until=NOW + timedelta(minutes=5))
    with pytest.raises(ApiLimitError):
        client.limits()
    assert client.calls == 0


def test_budget_guard_stops_a_cycle_that_used_a_quarter_of_what_was_left(
    client: SalesforceClient, rsps: responses.RequestsMock
) -> None:
    rsps.get(BASE + "limits/", json={}, headers=limit_header(1000, 10000))
    rsps.get(BASE + "limits/", json={}, headers=limit_header(2000, 10000))
    rsps.get(BASE + "limits/", json={}, headers=limit_header(3300, 10000))
    client.start_cycle()
    client.limits()
    client.limits()
    client.limits()  # 2300 of the 9000 left: over 25 %
    with pytest.raises(BudgetExceededError, match="more than 25%"):
        client.limits()


def test_a_cycle_after_a_budget_stop_looks_at_the_orgs_usage_again(
    client: SalesforceClient, rsps: responses.RequestsMock
) -> None:
    rsps.get(BASE + "limits/", json={}, headers=limit_header(8000, 10000))
    rsps.get(BASE + "limits/", json={}, headers=limit_header(500, 10000))  # the rolling day moved on
    client.start_cycle()
    client.limits()
    with pytest.raises(BudgetExceededError, match="80%"):
        client.limits()
    client.end_cycle()
    client.start_cycle()
    client.limits()  # one call to learn today's usage, then the cycle goes on
    client.limits()
    assert client.usage == ApiUsage(500, 10000)


def test_budget_problem_stops_at_eighty_percent_of_the_org() -> None:
    assert budget_problem(None, ApiUsage(12000, 15000), 0.25, 0.8) is not None
    assert budget_problem(ApiUsage(100, 15000), ApiUsage(200, 15000), 0.25, 0.8) is None


def test_session_carries_timeouts_and_the_ca_bundle_over_the_environment(
    sf_settings: SalesforceSettings, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    session = build_session(sf_settings.model_copy(update={"ca_bundle": bundle, "connect_timeout": 3.0}))
    assert session.timeout == (3.0, 120.0)
    assert session.verify == str(bundle)
    assert session.trust_env is False


def test_tokens_and_secrets_never_reach_the_logs(
    client: SalesforceClient, rsps: responses.RequestsMock
) -> None:
    rsps.get(BASE + "limits/", status=401, json=err("INVALID_SESSION_ID"))
    rsps.get(BASE + "limits/", status=503, body="busy")
    rsps.get(BASE + "limits/", json={})
    with capture_logs() as logs:
        client.limits()
    text = json.dumps(logs, default=str)
    assert logs
    assert "tok-" not in text
    assert "s3cret" not in text
    assert "s3cret" not in repr(client.settings)


def test_refused_login_is_an_auth_error_that_says_what_to_check(
    sf_settings: SalesforceSettings, rsps: responses.RequestsMock
) -> None:
    rsps.post(TOKEN_URL, status=400, json={"error": "invalid_client", "error_description": "invalid client"})
    with pytest.raises(AuthError, match="CLIENT_SECRET"):
        fetch_token(sf_settings, requests.Session())


def test_jwt_assertion_is_rs256_signed_for_the_user(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "server.key"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    pem.chmod(0o600)  # a key others can read is refused
    settings = SalesforceSettings(
        login_url="https://test.salesforce.com",
        auth="jwt",
        client_id="cid",
        username="u@x",
        private_key_file=pem,
    )
    body = token_request(settings, clock=lambda: 1000.0)
    claims = jwt.decode(
        body["assertion"],
        key.public_key(),
        algorithms=["RS256"],
        audience="https://test.salesforce.com",
        options={"verify_exp": False},
    )
    assert claims == {"iss": "cid", "sub": "u@x", "aud": "https://test.salesforce.com", "exp": 1180}


def test_org_id_comes_from_the_identity_url() -> None:
    from connector.sf.auth import org_from_identity

    assert (
        org_from_identity("https://login.salesforce.com/id/00D5g000004abcdEAA/0055g00000AbCdEAAV")
        == "00D5g000004abcd"
    )
    assert org_from_identity("https://login.salesforce.com/services/oauth2/userinfo") == ""
    assert org_from_identity(None) == ""
