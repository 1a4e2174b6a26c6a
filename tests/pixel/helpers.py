"""Builders shared by the pixel tests: settings, hit lines and a ledger with consent events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from connector.config.pixel import PixelSettings
from connector.events import CONTACT_UPDATED, make_event
from connector.ledger import Ledger
from connector.pixel.identity import sign_token

SECRET = "test-secret-0123456789abcdef"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(days=1)  # `now` long after every test hit: all visits have ended
BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/122.0 Safari/537.36"
)
JOB = "a0B5g000001AbCdEAF"


def settings(**overrides: Any) -> PixelSettings:
    """Pixel settings with a token secret (as if from the environment)."""
    return PixelSettings(token_secret=SecretStr(SECRET), **overrides)


def token(contact_id: str, expires: datetime | None = None) -> str:
    """A genuine token for `contact_id` (valid until `expires`, or for ever)."""
    return sign_token(contact_id, SECRET.encode(), expires=expires)


def hit(
    minutes: float = 0,
    url: str = "https://www.example-agency.nl/",
    visitor: str = "visitor-1",
    **fields: Any,
) -> dict[str, Any]:
    """One hit as our NDJSON object, `minutes` after T0."""
    obj: dict[str, Any] = {
        "time": (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
        "url": url,
        "referrer": "",
        "user_agent": BROWSER,
        "ip": "192.0.2.77",
        "visitor_id": visitor,
    }
    obj.update(fields)
    return {k: v for k, v in obj.items() if v is not None}


def write_hits(path: Path, hits: list[dict[str, Any]], mode: str = "w") -> Path:
    """Write hits as NDJSON lines."""
    with path.open(mode, encoding="utf-8") as out:
        for item in hits:
            out.write(json.dumps(item) + "\n")
    return path


def consent(ledger: Ledger, contact_id: str, yes: bool = True, at: datetime = T0) -> None:
    """Record the org's tracking consent for a contact, as the sync will."""
    ledger.append([make_event(contact_id, CONTACT_UPDATED, at, {"tracking_consent": yes})])


def all_rows(ledger: Ledger) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the ledger."""
    tables = [r[0] for r in ledger.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {t: list(ledger.db.execute(f'SELECT * FROM "{t}"')) for t in tables}  # noqa: S608 - table names from sqlite_master


POISON_IP = "198.51.100.66"  # a hit from this address makes every parser raise (see poison_parsers)


def poison_parsers(monkeypatch: Any) -> None:
    """Make every parser raise on hits from POISON_IP, as a parser bug would (a pytest MonkeyPatch)."""
    from connector.pixel import hits

    truncate = hits.truncate_ip

    def truncate_or_raise(text: str) -> str:
        if text == POISON_IP:
            raise OverflowError("a parser bug")
        return truncate(text)

    monkeypatch.setattr(hits, "truncate_ip", truncate_or_raise)
