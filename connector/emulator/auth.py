"""`POST /services/oauth2/token`: client credentials, JWT bearer (RS256) and refresh token grants.

Errors use the OAuth shape Salesforce returns (`{"error": ..., "error_description": ...}`, HTTP 400),
which simple-salesforce turns into `SalesforceAuthenticationFailed`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import jwt

from connector.emulator.org import Emulator

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class OAuthError(Exception):
    """A refused token request."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.body = {"error": error, "error_description": description}


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(client_id, client_secret) from an `Authorization: Basic` header, if present."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


def grant(emu: Emulator, form: Mapping[str, str], authorization: str | None) -> dict[str, Any]:
    """Check a token request and issue a session; OAuthError when it is refused."""
    kind = form.get("grant_type", "")
    settings = emu.settings
    if kind == "client_credentials":
        creds = basic_credentials(authorization) or (form.get("client_id", ""), form.get("client_secret", ""))
        if creds[0] != settings.client_id or not hmac.compare_digest(creds[1], settings.client_secret):
            raise OAuthError("invalid_client", "invalid client credentials")
    elif kind == JWT_GRANT:
        _check_assertion(emu, form.get("assertion", ""))
    elif kind == "refresh_token":
        if form.get("client_id") != settings.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if not hmac.compare_digest(form.get("refresh_token", ""), settings.refresh_token):
            raise OAuthError("invalid_grant", "expired access/refresh token")
    else:
        raise OAuthError("unsupported_grant_type", "grant type not supported")
    token = emu.issue_token()
    issued_ms = str(int(emu.clock.now().timestamp() * 1000))
    signature = base64.b64encode(hashlib.sha256((token + issued_ms).encode()).digest()).decode()
    return {
        "access_token": token,
        "instance_url": emu.base_url,
        "id": f"{emu.base_url}/id/{emu.org_id}/{emu.user_id}",
        "token_type": "Bearer",
        "issued_at": issued_ms,
        "signature": signature,
        "scope": "api",
    }


def _check_assertion(emu: Emulator, assertion: str) -> None:
    """Verify the JWT's RS256 signature, issuer, subject, audience and expiry (against the org clock).

    The audience must be the org's environment's: `https://login.salesforce.com` for production,
    `https://test.salesforce.com` for a sandbox (`OrgSettings.environment`), whatever URL serves it.
    """
    settings = emu.settings
    if not settings.jwt_public_key:
        raise OAuthError("invalid_grant", "no certificate is configured for JWT bearer on this connected app")
    try:
        claims = jwt.decode(
            assertion,
            settings.jwt_public_key,
            algorithms=["RS256"],
            # Expiry and audience are checked below against the org's own clock and URLs.
            options={"verify_exp": False, "verify_aud": False, "require": ["iss", "sub", "aud", "exp"]},
        )
    except jwt.InvalidTokenError as exc:
        raise OAuthError("invalid_grant", f"invalid assertion: {exc}") from None
    if claims["iss"] != settings.client_id:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if claims["sub"] != settings.username:
        raise OAuthError("invalid_grant", f"invalid assertion: unknown user {claims['sub']}")
    # Salesforce's rule: the audience names the environment, never the URL the request went to (a
    # My Domain login still says login.salesforce.com or test.salesforce.com).
    audiences = {settings.jwt_audience, *settings.jwt_audiences}
    aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if not audiences.intersection(str(a).rstrip("/") for a in aud):
        raise OAuthError("invalid_grant", "audience is invalid")
    try:
        expires = float(claims["exp"])
    except (TypeError, ValueError):
        raise OAuthError("invalid_grant", "invalid assertion: exp is not a number") from None
    if expires <= emu.clock.now().timestamp():
        raise OAuthError("invalid_grant", "expired authorization code")
