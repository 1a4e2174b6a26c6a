"""OAuth 2.0 against the configured login URL (JWT bearer, client credentials, refresh token).

No SOAP username/password login: Salesforce is retiring it. Tokens never reach a log line: `Token`
masks its access token in every repr.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import requests
import structlog
from pydantic import SecretStr

from connector.config.salesforce import SalesforceSettings
from connector.errors import AuthError, ConfigError, OrgUnreachableError, TransientError

log = structlog.get_logger(__name__)

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Salesforce accepts a JWT bearer assertion for at most a few minutes; 3 is its documented example.
JWT_LIFETIME_SECONDS = 180


@dataclass(frozen=True)
class Token:
    """A session: the access token (masked in reprs) and the instance URL it is valid for."""

    access_token: SecretStr = field(repr=False)
    instance_url: str
    org_id: str = ""  # 15 characters, from the identity URL `.../id/{org}/{user}`; "" when absent
    user_id: str = ""  # the logged-in (integration) user, from the same URL; "" when absent


class TimeoutSession(requests.Session):
    """A `requests.Session` whose every request gets our timeouts and CA bundle.

    simple-salesforce passes neither `timeout` nor `verify`, and requests would otherwise wait forever
    and let `REQUESTS_CA_BUNDLE` from the environment override `session.verify`.
    """

    def __init__(self, timeout: tuple[float, float], verify: str | bool) -> None:
        super().__init__()
        self.timeout = timeout
        self.verify = verify
        if verify is not True:
            # A configured CA bundle must win over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the environment.
            self.trust_env = False

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        """Send with our default timeout and CA bundle unless the caller gave its own."""
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("verify", self.verify)
        return super().request(method, url, *args, **kwargs)


def build_session(settings: SalesforceSettings) -> TimeoutSession:
    """The one HTTP session for an org: connect/read timeouts and the optional CA bundle."""
    verify: str | bool = str(settings.ca_bundle) if settings.ca_bundle is not None else True
    return TimeoutSession((settings.connect_timeout, settings.read_timeout), verify)


def token_request(settings: SalesforceSettings, clock: Callable[[], float] = time.time) -> dict[str, str]:
    """The form body for `/services/oauth2/token` in the configured auth mode."""
    if settings.auth == "jwt":
        return {"grant_type": JWT_GRANT, "assertion": jwt_assertion(settings, clock())}
    if settings.auth == "client_credentials":
        return {
            "grant_type": "client_credentials",
            "client_id": settings.client_id,
            "client_secret": _reveal(settings.client_secret),
        }
    body = {
        "grant_type": "refresh_token",
        "client_id": settings.client_id,
        "refresh_token": _reveal(settings.refresh_token),
    }
    if settings.client_secret is not None:
        body["client_secret"] = settings.client_secret.get_secret_value()
    return body


def jwt_assertion(settings: SalesforceSettings, now: float) -> str:
    """An RS256-signed JWT bearer assertion for the configured user and connected app."""
    key = _read_key(settings.private_key_file)
    claims = {
        "iss": settings.client_id,
        "sub": settings.username,
        "aud": settings.audience,
        "exp": int(now) + JWT_LIFETIME_SECONDS,
    }
    try:
        return jwt.encode(claims, key, algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError):  # the message may quote the key: never shown
        raise ConfigError(
            f"salesforce.private_key_file: {settings.private_key_file} is not a PEM RSA private key"
        ) from None


def fetch_token(
    settings: SalesforceSettings, session: requests.Session, clock: Callable[[], float] = time.time
) -> Token:
    """Log in at `{login_url}/services/oauth2/token`; AuthError when refused, TransientError when flaky."""
    url = settings.login_url.rstrip("/") + "/services/oauth2/token"
    try:
        response = session.post(
            url, data=token_request(settings, clock), headers={"Accept": "application/json"}
        )
    except requests.RequestException as exc:
        cause = unreachable_cause(exc)
        if cause is not None:  # retrying for half a minute will not make a name resolve or a port open
            raise OrgUnreachableError(f"cannot reach {settings.login_url}: {cause}") from None
        raise TransientError(f"cannot reach {settings.login_url}: {type(exc).__name__}") from None
    if response.status_code >= 500 or response.status_code in (420, 429):
        raise TransientError(f"login at {settings.login_url} answered HTTP {response.status_code}")
    body = _json(response)
    if response.status_code != 200:
        error = str(body.get("error", "")) or f"HTTP {response.status_code}"
        detail = str(body.get("error_description", ""))
        log.warning("sf_login_refused", auth=settings.auth, error=error)
        raise AuthError(
            f"Salesforce refused the {settings.auth} login at {settings.login_url}: {error}"
            f"{' (' + detail + ')' if detail else ''}; {_AUTH_HINTS[settings.auth]}"
        )
    access_token, instance_url = body.get("access_token"), body.get("instance_url")
    if not isinstance(access_token, str) or not isinstance(instance_url, str):
        raise AuthError(f"login at {settings.login_url} answered without access_token / instance_url")
    log.info("sf_login", auth=settings.auth, instance_url=instance_url)
    identity = body.get("id")
    return Token(
        SecretStr(access_token),
        instance_url.rstrip("/"),
        org_from_identity(identity),
        user_from_identity(identity),
    )


def unreachable_cause(exc: BaseException) -> str | None:
    """'DNS lookup failed', 'connection refused' or 'TLS ...' when that is why a request failed; else None."""
    seen: list[BaseException] = []
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        todo += [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]
    if any(isinstance(item, socket.gaierror) for item in seen):
        return "DNS lookup failed (check login_url and the network)"
    if any(isinstance(item, ConnectionRefusedError) for item in seen):
        return "connection refused (nothing listens there: check login_url and the network)"
    tls = next((item for item in seen if isinstance(item, ssl.SSLError)), None)
    if tls is not None or isinstance(exc, requests.exceptions.SSLError):
        reason = getattr(tls, "reason", None) or "handshake failed"
        return f"TLS verification failed ({reason}): check ca_bundle and login_url"
    return None


def org_from_identity(identity_url: object) -> str:
    """The org id (15 characters) in a token response's identity URL, or "" when there is none."""
    parts = str(identity_url or "").rstrip("/").split("/")
    return parts[-2][:15] if len(parts) >= 3 and parts[-3] == "id" and parts[-2].startswith("00D") else ""


def user_from_identity(identity_url: object) -> str:
    """The user id in a token response's identity URL `.../id/{org}/{user}`, or "" when there is none."""
    parts = str(identity_url or "").rstrip("/").split("/")
    return parts[-1] if org_from_identity(identity_url) and parts[-1].startswith("005") else ""


_AUTH_HINTS = {
    "jwt": "check client_id, username, the certificate uploaded to the connected app and that the user "
    "is pre-authorised for it",
    "client_credentials": "check client_id, MSR_ENGAGE_SALESFORCE__CLIENT_SECRET and the connected app's "
    "run-as user (client credentials need a My Domain login_url)",
    "refresh_token": "check client_id and MSR_ENGAGE_SALESFORCE__REFRESH_TOKEN (it may have been revoked)",
}


def _json(response: requests.Response) -> Mapping[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _reveal(secret: SecretStr | None) -> str:
    if secret is None:  # the settings validator already demands it; this keeps mypy and us honest
        raise ConfigError("salesforce: a secret the auth mode needs is missing")
    return secret.get_secret_value()


def _read_key(path: Path | None) -> str:
    if path is None:
        raise ConfigError("salesforce.private_key_file: required for auth = 'jwt'")
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"salesforce.private_key_file: cannot read {path}: {exc.strerror}") from None
