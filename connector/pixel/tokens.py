"""Contact tokens for tracked links (`?mt=...`): signed, versioned, with a key id and an optional expiry.

v2 (what `sign_token` makes): `2.KID.CONTACT_ID.EXPIRY.SIGNATURE`

- KID: 6 characters naming the secret that signed it (derived from the secret, so nothing to configure);
- EXPIRY: the last moment the token counts, as base-36 epoch seconds, or `0` for no expiry;
- SIGNATURE: HMAC-SHA256 over everything before it, base64url, the first 22 characters (128 bits).

A `Keyring` signs with its newest secret and accepts every secret it lists, so a secret is rotated by
making the old one a "previous" secret: links already sent keep working until it is dropped. v1 tokens
(`CONTACT_ID.SIGNATURE`, no key id, no expiry) are accepted while `accept_v1` is set.

Line seals (`Keyring.seal`): our collector checks a hit's token itself and writes the contact id it
proved instead, with `KID.SIGNATURE` over the line's fields (another purpose's domain, so a seal is
never a token). Ingest credits such a contact only when the seal verifies: a provider's log or a
hand-made file cannot name a contact without a token or the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connector.config.pixel import PixelSettings
from connector.pixel.hits import Reason

_CONTACT = re.compile(r"[A-Za-z0-9]{1,64}")
_V1_DOMAIN = b"msr-engage/contact-token/v1:"  # so a signature made for another purpose never verifies
_V2_DOMAIN = b"msr-engage/contact-token/v2:"
_KID_DOMAIN = b"msr-engage/contact-token/key-id:"
_SEAL_DOMAIN = b"msr-engage/collector-line/v1:"
_SIG_LEN = 22
_EXPIRY = re.compile(r"0|[1-9a-z][0-9a-z]{0,12}")


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def key_id(secret: bytes) -> str:
    """The 6-character name of a secret in the tokens it signs (not enough to guess it by)."""
    return _b64(hashlib.sha256(_KID_DOMAIN + secret).digest())[:6]


def _v1_signature(contact_id: str, secret: bytes) -> str:
    return _b64(hmac.new(secret, _V1_DOMAIN + contact_id.encode(), hashlib.sha256).digest())


def _v2_signature(body: str, secret: bytes) -> str:
    return _b64(hmac.new(secret, _V2_DOMAIN + body.encode(), hashlib.sha256).digest())[:_SIG_LEN]


def _seal_signature(fields: Sequence[str], secret: bytes) -> str:
    # A JSON array of the fields: unambiguous (no separator a field could contain), the same bytes
    # for the same strings however the line was laid out.
    text = json.dumps(list(fields), ensure_ascii=True, separators=(",", ":"))
    return _b64(hmac.new(secret, _SEAL_DOMAIN + text.encode(), hashlib.sha256).digest())[:_SIG_LEN]


def _base36(n: int) -> str:
    digits = ""
    while n:
        n, d = divmod(n, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[d] + digits
    return digits or "0"


def sign_token(contact_id: str, secret: bytes, *, expires: datetime | None = None) -> str:
    """A v2 contact token for tracked links; `expires`: the last moment it counts (None: never)."""
    if not _CONTACT.fullmatch(contact_id):
        raise ValueError(f"{contact_id!r}: a contact id is 1-64 letters and digits")
    expiry = "0" if expires is None else _base36(max(1, int(expires.timestamp())))
    body = f"2.{key_id(secret)}.{contact_id}.{expiry}"
    return f"{body}.{_v2_signature(body, secret)}"


def sign_token_v1(contact_id: str, secret: bytes) -> str:
    """A token of the old format (links sent before v2); for tests and for comparing only."""
    if not _CONTACT.fullmatch(contact_id):
        raise ValueError(f"{contact_id!r}: a contact id is 1-64 letters and digits")
    return f"{contact_id}.{_v1_signature(contact_id, secret)}"


@dataclass(frozen=True)
class Keyring:
    """The secrets tokens are signed with (the first) and accepted with (all), and the v1 setting."""

    secrets: tuple[bytes, ...]
    accept_v1: bool = True
    _by_kid: dict[str, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.secrets:
            raise ValueError("a keyring needs at least one secret")
        object.__setattr__(self, "_by_kid", {key_id(s): s for s in reversed(self.secrets)})

    def sign(self, contact_id: str, expires: datetime | None = None) -> str:
        """A v2 token signed with the newest secret."""
        return sign_token(contact_id, self.secrets[0], expires=expires)

    def seal(self, fields: Sequence[str]) -> str:
        """`KID.SIGNATURE` over a collector line's fields, with the newest secret."""
        return f"{key_id(self.secrets[0])}.{_seal_signature(fields, self.secrets[0])}"

    def unseal(self, fields: Sequence[str], seal: str) -> bool:
        """Whether `seal` was made by `seal(fields)` with one of the listed secrets."""
        kid, _, signature = seal.partition(".")
        key = self._by_kid.get(kid)
        if key is None or not signature.isascii():
            return False
        return hmac.compare_digest(signature, _seal_signature(fields, key))

    def check(self, token: str, at: datetime) -> str | Reason:
        """The contact id of a genuine token still valid at `at`, else why not (forged or expired)."""
        parts = token.split(".")
        if not token.isascii():
            return Reason.FORGED_TOKEN  # a signature is base64url; compare_digest raises on non-ASCII
        if len(parts) == 2:
            contact_id, signature = parts
            if not self.accept_v1 or not _CONTACT.fullmatch(contact_id):
                return Reason.FORGED_TOKEN
            for secret in self.secrets:
                # compare_digest: the time taken must not tell a forger how many characters were right.
                if hmac.compare_digest(signature, _v1_signature(contact_id, secret)):
                    return contact_id
            return Reason.FORGED_TOKEN
        if len(parts) != 5 or parts[0] != "2":
            return Reason.FORGED_TOKEN
        _, kid, contact_id, expiry, signature = parts
        key = self._by_kid.get(kid)
        if key is None or not _CONTACT.fullmatch(contact_id) or not _EXPIRY.fullmatch(expiry):
            return Reason.FORGED_TOKEN
        if not hmac.compare_digest(signature, _v2_signature(token.rpartition(".")[0], key)):
            return Reason.FORGED_TOKEN
        if expiry != "0" and at.timestamp() > int(expiry, 36):
            return Reason.EXPIRED_TOKEN
        return contact_id


def verify_token(token: str, secret: bytes, at: datetime | None = None) -> str | None:
    """The contact id of a genuine token (v1 or v2) for one secret; None when forged or expired."""
    found = Keyring((secret,)).check(token, at or datetime.now(UTC))
    return None if isinstance(found, Reason) else found


def settings_keyring(settings: PixelSettings) -> Keyring | None:
    """The keyring of `[pixel]` (token secret, previous secrets, v1 setting); None without a secret."""
    return keyring_of(
        None if settings.token_secret is None else settings.token_secret.get_secret_value(),
        tuple(p.get_secret_value() for p in settings.token_previous_secrets),
        accept_v1=settings.accept_v1_tokens,
    )


def keyring_of(
    secret: str | None, previous: tuple[str, ...] = (), *, accept_v1: bool = True
) -> Keyring | None:
    """The keyring of configured secrets (newest first); None when no secret is configured."""
    if secret is None:
        return None
    return Keyring((secret.encode(), *(p.encode() for p in previous)), accept_v1=accept_v1)
