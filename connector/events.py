"""The one currency: `Event` values and their NDJSON form.

An NDJSON line is `{"id"?, "contact_id", "kind", "at", "attrs"?}`. `at` must carry a time zone and is
stored as UTC. A missing `id` is derived from (contact_id, kind, at, attrs), so re-reading the same
line never yields a second event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import IO, Any

import orjson

# Kinds produced by the built-in sources; sources may add more, rules match kinds by name.
APPLICATION_STEP = "application.step"
EMAIL_OPENED = "email.opened"
EMAIL_CLICKED = "email.clicked"
EMAIL_REPLIED = "email.replied"
WEB_VISIT = "web.visit"
WEB_JOB_VIEW = "web.job_view"
APPOINTMENT_MADE = "appointment.made"
# What the org says about the contact itself (attrs: kind = candidate | contact_person, ...).
CONTACT_UPDATED = "contact.updated"
BUILT_IN_KINDS = frozenset(
    {APPLICATION_STEP, EMAIL_OPENED, EMAIL_CLICKED, EMAIL_REPLIED, WEB_VISIT, WEB_JOB_VIEW, APPOINTMENT_MADE}
)

_KEYS = frozenset({"id", "contact_id", "kind", "at", "attrs"})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
MAX_LINE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Event:
    """Something a contact did (or the org recorded about them) at a moment in time."""

    id: str
    contact_id: str
    kind: str
    at: datetime
    attrs: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("Event.at must be timezone-aware")


EventRecord = tuple[int, str, str, Mapping[str, Any]]
"""An event as plain values: (UTC microseconds since the epoch, id, kind, attrs), for bulk work.

Records sort by time, then id. The ledger's bulk readers produce them directly, so a full re-score
builds no `Event` or `datetime` per event.
"""


def to_micros(at: datetime) -> int:
    """An aware datetime as integer microseconds since the epoch (exact, sortable)."""
    return (at - EPOCH) // MICROSECOND


def from_micros(value: int) -> datetime:
    """Inverse of `to_micros`."""
    return EPOCH + timedelta(microseconds=value)


def record_of(event: Event) -> EventRecord:
    """An Event as a record."""
    return (to_micros(event.at), event.id, event.kind, event.attrs)


def derive_id(*parts: object) -> str:
    """A deterministic event id: a hash of the parts that identify one occurrence."""
    try:
        text = "".join(parts)  # type: ignore[arg-type]  # a TypeError says some part is not text
    except TypeError:
        text = None
    if text is not None and text.isascii() and text.isprintable():
        # Printable ASCII strings: orjson writes exactly the bytes json.dumps below writes (only
        # '"' and '\\' escaped, the same way), five times faster. Pixel visits make ids by the
        # hundred thousand; a test pins the equality.
        return hashlib.sha256(orjson.dumps(parts)).hexdigest()[:32]
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def org_event_id(source: str, record_id: object, kind: str, at: datetime) -> str:
    """The id of an event read from an org record: (source, record id, kind, event time).

    No contact in it: a Salesforce id is unique in its org, and the ledger keys events by (contact,
    id), so an e-mail to two recipients is still two rows. When a merge moves a record to another
    contact, its events keep their ids, and reading the record again under that contact adds nothing.
    """
    return derive_id(source, record_id, kind, format_time(at))


def legacy_org_event_id(source: str, record_id: object, contact_id: str, kind: str, at: datetime) -> str:
    """The id older ledgers gave org events (the contact in it); migration `org_event_ids` re-keys them."""
    return derive_id(source, record_id, contact_id, kind, format_time(at))


def make_event(
    contact_id: str,
    kind: str,
    at: datetime,
    attrs: Mapping[str, Any] | None = None,
    id: str | None = None,
) -> Event:
    """Build an event, normalising `at` to UTC and deriving the id when none is given."""
    if at.tzinfo is None:
        raise ValueError("at: time zone missing (use e.g. 2026-03-02T09:15:00Z)")
    at = at.astimezone(UTC)
    attrs = dict(attrs or {})
    return Event(id or derive_id(contact_id, kind, format_time(at), attrs), contact_id, kind, at, attrs)


def format_time(at: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, seconds precision unless the time has microseconds."""
    if at.tzinfo is UTC:  # most times are UTC already: the same text, a third of the work
        return at.isoformat()[:-6] + "Z"
    at = at.astimezone(UTC)
    spec = "microseconds" if at.microsecond else "seconds"
    return at.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def parse_time(text: object) -> datetime:
    """Parse an aware ISO 8601 time (also Salesforce's `+0000` form) to UTC; ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError("at: must be an ISO 8601 string")
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"at: not an ISO 8601 time: {text!r}") from None
    if at.tzinfo is None:
        raise ValueError(f"at: time zone missing in {text!r} (add Z or an offset)")
    return at.astimezone(UTC)


def day_text(day: date | None) -> str | None:
    """A day as the ledger stores it (ISO `YYYY-MM-DD`; None stays None)."""
    return day.isoformat() if day else None


def parse_day(text: str | None) -> date | None:
    """The inverse of `day_text`."""
    return date.fromisoformat(text) if text else None


def parse_line(line: str) -> Event:
    """Turn one NDJSON line into an Event; ValueError with a short reason when it is not one."""
    if len(line) > MAX_LINE_BYTES:
        raise ValueError(f"line longer than {MAX_LINE_BYTES} bytes")
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    unknown = obj.keys() - _KEYS
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
    for key in ("contact_id", "kind"):
        value = obj.get(key)
        if not isinstance(value, str) or not value:
            raise ValueError(f"{key}: must be a non-empty string")
    attrs = obj.get("attrs", {})
    if not isinstance(attrs, dict):
        raise ValueError("attrs: must be a JSON object")
    event_id = obj.get("id")
    if event_id is not None and (not isinstance(event_id, str) or not event_id):
        raise ValueError("id: must be a non-empty string when given")
    return make_event(obj["contact_id"], obj["kind"], parse_time(obj.get("at")), attrs, event_id)


def to_json(event: Event) -> str:
    """One NDJSON line (without newline) for `event`."""
    return json.dumps(
        {
            "id": event.id,
            "contact_id": event.contact_id,
            "kind": event.kind,
            "at": format_time(event.at),
            "attrs": dict(event.attrs),
        },
        ensure_ascii=False,
        sort_keys=False,
    )


@dataclass(frozen=True, slots=True)
class Rejection:
    """A line that did not become an event, and why."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass
class EventReader:
    """Iterate the events of an NDJSON stream; rejected lines are collected in `rejected`.

    With `skip_invalid=False` the first bad line raises `ValueError` carrying `FILE:LINE: reason`.
    With `kinds`, an event of another kind is a bad line whose reason lists the known kinds.
    """

    stream: Iterable[str] | IO[str]
    source: str
    skip_invalid: bool = False
    kinds: frozenset[str] | None = None
    lines: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def __iter__(self) -> Iterator[Event]:
        for number, line in enumerate(self.stream, start=1):
            self.lines = number
            if not line.strip():
                continue
            try:
                event = parse_line(line)
                if self.kinds is not None and event.kind not in self.kinds:
                    known = ", ".join(sorted(self.kinds))
                    raise ValueError(f"kind: unknown event kind {event.kind!r} (known kinds: {known})")  # noqa: TRY301
                yield event
            except ValueError as exc:
                rejection = Rejection(self.source, number, str(exc))
                if not self.skip_invalid:
                    raise ValueError(str(rejection)) from None
                self.rejected.append(rejection)


def write_ndjson(events: Iterable[Event], out: IO[str]) -> int:
    """Write events as NDJSON lines; return how many were written."""
    count = 0
    for event in events:
        out.write(to_json(event) + "\n")
        count += 1
    return count
