"""Field values the way Salesforce reads and writes them: ids, datetimes, per-type coercion.

Values inside the store are typed (aware `datetime` truncated to the second, `date`, `float`, `bool`,
`str`); JSON and CSV inputs are coerced here, and a value that does not fit its field becomes a
`RecordError` carrying Salesforce's status code, so callers report it per record.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from connector.emulator.schema import FieldDef

_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class RecordError(Exception):
    """One record's failure, as Salesforce reports it (`statusCode`, `message`, `fields`)."""

    status_code: str
    message: str
    fields: list[str] = field(default_factory=list)

    def as_result(self) -> dict[str, Any]:
        """The error entry of a per-record result."""
        return {"statusCode": self.status_code, "message": self.message, "fields": self.fields}

    def as_body(self) -> list[dict[str, Any]]:
        """A whole-response error body (single-record endpoints)."""
        return [{"message": self.message, "errorCode": self.status_code, "fields": self.fields}]


def checksum(id15: str) -> str:
    """The 3-character case-safe suffix that turns a 15-character id into its 18-character form."""
    suffix = ""
    for chunk in range(3):
        bits = 0
        for pos, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << pos
        suffix += _ID_CHARS[bits]
    return suffix


def normalise_id(value: str) -> str | None:
    """An 18-character id for a 15- or 18-character id, or None when it is not an id at all."""
    if not _ID_RE.match(value):
        return None
    return value if len(value) == 18 else value + checksum(value)


class IdMaker:
    """Hands out 18-character ids with the object's key prefix, in order (thread-safe)."""

    def __init__(self, counters: dict[str, int] | None = None, pod: str = "Kb") -> None:
        self.counters: dict[str, int] = dict(counters or {})
        self.pod = pod  # two characters that differ per org, as the instance part of real ids does
        self._lock = threading.Lock()

    def new(self, prefix: str) -> str:
        """The next id for `prefix`."""
        with self._lock:
            n = self.counters.get(prefix, 0) + 1
            self.counters[prefix] = n
        digits = ""
        while n:
            n, rem = divmod(n, 62)
            digits = BASE62[rem] + digits
        id15 = prefix + self.pod + digits.rjust(10, "0")
        return id15 + checksum(id15)


def format_datetime(at: datetime) -> str:
    """Salesforce's datetime form: `2026-11-26T13:28:07.000+0000`."""
    if at.tzinfo is UTC and not at.microsecond:
        return at.isoformat()[:19] + ".000+0000"  # the stored case; strftime is ~5x slower
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


def parse_datetime(text: str) -> datetime:
    """Parse an ISO datetime with zone (`Z`, `+00:00`, `+0000`); ValueError otherwise."""
    cleaned = text.strip()
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1] + "+00:00"
    elif re.search(r"[+-]\d{4}$", cleaned):
        cleaned = cleaned[:-2] + ":" + cleaned[-2:]
    at = datetime.fromisoformat(cleaned)
    if at.tzinfo is None:
        raise ValueError("datetime without time zone")
    return truncate(at)


def truncate(at: datetime) -> datetime:
    """UTC, whole seconds: an org stores no sub-second precision in its timestamps."""
    return at.astimezone(UTC).replace(microsecond=0)


def to_json(value: Any) -> Any:
    """A stored value as it appears in REST JSON."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def from_json(f: FieldDef, value: Any) -> Any:
    """A stored value read back from persisted JSON."""
    if value is None:
        return None
    if f.type == "datetime":
        return parse_datetime(value)
    if f.type == "date":
        return date.fromisoformat(value)
    return value


def coerce(f: FieldDef, value: Any, *, from_csv: bool = False) -> Any:
    """Check and convert one incoming value for field `f`; RecordError when it does not fit."""
    if value is None:
        return None
    label = f.label
    if f.type in _TYPED:
        try:
            return _TYPED[f.type](value, from_csv)
        except ValueError:
            raise RecordError(
                "INVALID_TYPE_ON_FIELD_IN_RECORD", f"{label}: value not of required type: {value}", [f.name]
            ) from None
    if not isinstance(value, str):
        if f.type == "anyType":
            return value
        raise RecordError(
            "INVALID_TYPE_ON_FIELD_IN_RECORD", f"{label}: value not of required type: {value}", [f.name]
        )
    if f.type == "reference":
        return value
    if f.length and len(value) > f.length:
        raise RecordError(
            "STRING_TOO_LONG",
            f"{label}: data value too large: {value[:40]} (max length={f.length})",
            [f.name],
        )
    if f.type == "picklist" and f.restricted and value not in f.picklist:
        raise RecordError(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{label}: bad value for restricted picklist field: {value}",
            [f.name],
        )
    if f.type == "email" and value and not _EMAIL_RE.match(value):
        raise RecordError("INVALID_EMAIL_ADDRESS", f"{label}: invalid email address: {value}", [f.name])
    return value


def _double(value: Any, from_csv: bool) -> float:
    # JSON must carry a number; CSV carries text that has to read as one.
    if isinstance(value, bool) or not (isinstance(value, int | float) or from_csv):
        raise ValueError(value)
    return float(value)


def _boolean(value: Any, from_csv: bool) -> bool:
    if isinstance(value, bool):
        return value
    if from_csv and str(value).lower() in ("true", "false", "1", "0"):
        return str(value).lower() in ("true", "1")
    raise ValueError(value)


def _date(value: Any, from_csv: bool) -> date:
    if not isinstance(value, str):
        raise ValueError(value)
    return date.fromisoformat(value) if len(value) == 10 else _date_from(value)


def _datetime(value: Any, from_csv: bool) -> datetime:
    if not isinstance(value, str):
        raise ValueError(value)
    return parse_datetime(value)


_TYPED: dict[str, Callable[[Any, bool], Any]] = {
    "double": _double,
    "boolean": _boolean,
    "date": _date,
    "datetime": _datetime,
}


def _date_from(value: str) -> date:
    """A date given as a datetime string: Salesforce keeps the UTC date part."""
    return parse_datetime(value).date()


class Clock:
    """The org's clock: real time plus an offset tests can advance, or a frozen moment."""

    def __init__(self, frozen_at: datetime | None = None, *, offset: timedelta = timedelta()) -> None:
        self._offset = offset  # real time plus this (the demo replays the last days: negative)
        self._frozen = frozen_at
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The current org time (UTC, aware)."""
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> datetime:
        """Move the org's time forward (token expiry, commit lag) without sleeping."""
        with self._lock:
            if self._frozen is not None:
                self._frozen += timedelta(seconds=seconds)
            else:
                self._offset += timedelta(seconds=seconds)
        return self.now()

    def freeze(self, at: datetime) -> None:
        """Stop the clock at `at` (aware); `advance` still moves it."""
        with self._lock:
            self._frozen = at.astimezone(UTC)
