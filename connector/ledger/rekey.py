"""Re-keying stored org events to contact-free ids (migration `org_event_ids`), proven one by one."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Sequence

import orjson
import sqlite_utils

from connector.events import from_micros, legacy_org_event_id, org_event_id

_RECORD_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")


def rekeyer(sources: Sequence[str]) -> Callable[[str, str, str, int, str], str]:
    """The SQL function `rekey_org_event(contact_id, id, kind, at, attrs)` of migration `org_event_ids`:
    the contact-free id when the stored one is the old hash of (source, record id, contact, kind,
    time) for one of `sources` and a record id among the attributes; else the stored id."""
    hints: dict[str, tuple[str, str]] = {}  # kind -> (source, attribute) that proved the last one

    def rekey(contact_id: str, event_id: str, kind: str, at: int, attrs: str) -> str:
        when, values = from_micros(at), orjson.loads(attrs or "{}")
        hinted = [hints[kind]] if kind in hints else []
        for source, key in itertools.chain(hinted, _candidates(values, sources)):
            record_id = values.get(key)
            if legacy_org_event_id(source, record_id, contact_id, kind, when) == event_id:
                hints[kind] = (source, key)
                return org_event_id(source, record_id, kind, when)
        return event_id

    return rekey


def _candidates(values: dict[str, object], sources: Sequence[str]) -> Iterator[tuple[str, str]]:
    for key, value in values.items():
        if isinstance(value, str) and _RECORD_ID.match(value):
            yield from ((source, key) for source in sources)


def org_sources(db: sqlite_utils.Database) -> list[str]:
    """The org sources this ledger has read (a cursor `sf:NAME` each)."""
    if not db["cursors"].exists():
        return []
    rows = db.execute("SELECT name FROM cursors WHERE name LIKE 'sf:%' ORDER BY name")
    return [str(name)[3:] for (name,) in rows]
