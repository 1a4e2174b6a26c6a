"""OAuth against the emulator with simple-salesforce's own token call, over real HTTPS."""

from __future__ import annotations

import base64
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceExpiredSession
from simple_salesforce.login import token_login

from connector.emulator.testing import RunningEmulator

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _assertion(em: RunningEmulator, *, key: bytes | None = None, **claims: Any) -> str:
    # The fixture's org is a sandbox: Salesforce wants test.salesforce.com, whatever URL serves the org.
    aud = "https://test.salesforce.com"
    payload = {"iss": em.client_id, "sub": em.username, "aud": aud, "exp": int(time.time()) + 180}
    payload.update(claims)
    return jwt.encode(payload, key or em.jwt_private_key.read_bytes(), algorithm="RS256")


def _jwt_login(em: RunningEmulator, assertion: str) -> tuple[str, str]:
    token, instance = token_login(
        em.login_url + "/services/oauth2/token",
        {"grant_type": JWT_GRANT, "assertion": assertion},
        "login",
        em.client_id,
        None,
        None,
        em.session(),
    )
    return str(token), str(instance)


def test_client_credentials_session_queries_through_simple_salesforce(emulator: RunningEmulator) -> None:
    basic = base64.b64encode(f"{emulator.client_id}:{emulator.client_secret}".encode()).decode()
    session = emulator.session()
    token, instance = token_login(
        emulator.login_url + "/services/oauth2/token",
        {"grant_type": "client_credentials"},
        "login",
        emulator.client_id,
        {"Authorization": f"Basic {basic}"},
        None,
        session,
    )
    sf = Salesforce(session_id=token, instance_url="https://" + instance, session=session)
    assert sf.query("SELECT Id, DeveloperName FROM RecordType")["totalSize"] == 2


def test_wrong_client_secret_is_refused(emulator: RunningEmulator) -> None:
    basic = base64.b64encode(f"{emulator.client_id}:nope".encode()).decode()
    with pytest.raises(SalesforceAuthenticationFailed, match="invalid_client"):
        token_login(
            emulator.login_url + "/services/oauth2/token",
            {"grant_type": "client_credentials"},
            "login",
            emulator.client_id,
            {"Authorization": f"Basic {basic}"},
            None,
            emulator.session(),
        )


def test_jwt_bearer_with_the_configured_key_gets_a_working_session(emulator: RunningEmulator) -> None:
    token, instance = _jwt_login(emulator, _assertion(emulator))
    session = emulator.session()
    sf = Salesforce(session_id=token, instance_url="https://" + instance, session=session)
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 0


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"aud": "https://login.salesforce.com"}, "audience is invalid"),  # production's, not a sandbox's
        ({"aud": "https://127.0.0.1"}, "audience is invalid"),  # the URL the token request went to
        ({"exp": int(time.time()) - 5}, "expired"),
        ({"iss": "someone-else"}, "client identifier invalid"),
        ({"sub": "intruder@example.com"}, "unknown user"),
    ],
)
def test_jwt_bearer_rejects_bad_claims(
    emulator: RunningEmulator, claims: dict[str, Any], message: str
) -> None:
    with pytest.raises(SalesforceAuthenticationFailed, match=message):
        _jwt_login(emulator, _assertion(emulator, **claims))


def test_jwt_bearer_rejects_a_signature_from_another_key(emulator: RunningEmulator) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(SalesforceAuthenticationFailed, match="invalid assertion"):
        _jwt_login(emulator, _assertion(emulator, key=pem))


def test_jwt_expiry_is_judged_by_the_org_clock(emulator: RunningEmulator) -> None:
    assertion = _assertion(emulator)
    emulator.org.advance(600)
    with pytest.raises(SalesforceAuthenticationFailed, match="expired"):
        _jwt_login(emulator, assertion)


def test_refresh_token_grant(emulator: RunningEmulator) -> None:
    response = emulator.session().post(
        emulator.login_url + "/services/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": emulator.client_id,
            "refresh_token": emulator.org.settings.refresh_token,
        },
    )
    body = response.json()
    assert response.status_code == 200
    assert set(body) >= {"access_token", "instance_url", "id", "token_type", "issued_at"}
    bad = emulator.session().post(
        emulator.login_url + "/services/oauth2/token",
        data={"grant_type": "refresh_token", "client_id": emulator.client_id, "refresh_token": "stale"},
    )
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_grant"


def test_a_session_expires_after_its_lifetime_on_the_org_clock(emulator: RunningEmulator) -> None:
    sf = emulator.salesforce()
    sf.query("SELECT Id FROM Contact")
    emulator.org.advance(emulator.org.settings.token_ttl_seconds + 1)
    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.query("SELECT Id FROM Contact")
    assert caught.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_calls_without_a_token_get_invalid_session_id(emulator: RunningEmulator) -> None:
    response = emulator.session().get(emulator.instance_url + "/services/data/v59.0/limits")
    assert response.status_code == 401
    assert response.json()[0]["errorCode"] == "INVALID_SESSION_ID"
