"""Consent withdrawal, the shell side: note changes as events come in, delete web records in the org."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog

from connector.config.salesforce import ObjectMapping
from connector.events import CONTACT_UPDATED, Event
from connector.ledger import Ledger
from connector.ledger.consent import (
    consent_of,
    record_consent_changes,
    web_cleared,
    web_withdrawn,
    withdraw_web,
)
from connector.ledger.store import AppendResult
from connector.sf.port import OrgPort
from connector.sf.writer import Outcome, delete_records
from connector.shell.by_id import records_of_contacts
from connector.sync.consent import consent_changes, withdrawals

log = structlog.get_logger(__name__)


def append_noting_consent(
    ledger: Ledger, events: Sequence[Event], source: str, now: datetime
) -> tuple[int, list[str]]:
    """Append events in one transaction; keep each consent change as evidence and withdraw the web data
    of contacts whose consent went from yes to no. Returns the events added and the withdrawn contacts."""
    ids = [e.contact_id for e in events if e.kind == CONTACT_UPDATED]
    with ledger.transaction():
        before = consent_of(ledger, ids)
        added = ledger.append(events).added
        after = consent_of(ledger, ids) if ids else {}
        record_consent_changes(ledger, consent_changes(before, after), source, now)
        withdrawn = withdrawals(before, after)
        if withdrawn:
            deleted = withdraw_web(ledger, withdrawn)
            log.info("consent_withdrawn", contacts=len(withdrawn), web_events_deleted=deleted)
    return added, withdrawn


INGEST_CHUNK = 50_000  # events per append of `ingest`: memory stays flat for any file size
INGEST_SOURCE = "ingest"  # the source consent evidence names for answers from an events file


def _chunks(events: Iterable[Event]) -> Iterator[list[Event]]:
    """Events in chunks that hold at most one consent answer per contact, so every answer in a file
    is compared with the one before it (evidence of each change, not only of the last)."""
    chunk: list[Event] = []
    answered: set[str] = set()
    for event in events:
        if event.kind == CONTACT_UPDATED and "tracking_consent" in event.attrs:
            if event.contact_id in answered:
                yield chunk
                chunk, answered = [], set()
            answered.add(event.contact_id)
        chunk.append(event)
        if len(chunk) >= INGEST_CHUNK:
            yield chunk
            chunk, answered = [], set()
    if chunk:
        yield chunk


def ingest_events(ledger: Ledger, events: Iterable[Event], now: datetime) -> tuple[AppendResult, list[str]]:
    """`msr-engage ingest`: append an events file in one transaction, noting consent as the org sources
    do (evidence from `ingest`; a withdrawal deletes the web data now, the org's records next cycle).
    Returns what the append did and the contacts whose consent was withdrawn."""
    added = seen = 0
    withdrawn: list[str] = []
    with ledger.transaction():
        for chunk in _chunks(events):
            n, gone = append_noting_consent(ledger, chunk, INGEST_SOURCE, now)
            added, seen = added + n, seen + len(chunk)
            withdrawn += [c for c in gone if c not in withdrawn]
    return AppendResult(added=added, duplicates=seen - added), withdrawn


@dataclass(frozen=True, slots=True)
class WebDeletes:
    """What deleting withdrawn contacts' web records did: records deleted, refused, contacts cleared."""

    deleted: int = 0
    refused: int = 0
    cleared: int = 0
    stopped: str = ""


def delete_withdrawn_web(
    client: OrgPort, ledger: Ledger, mapping: ObjectMapping, *, dry_run: bool = False
) -> WebDeletes:
    """Delete the visit and job-view records the org holds of contacts whose consent was withdrawn.

    The records are found by contact, not from what the ledger confirmed, so one written by a killed
    cycle that never confirmed it is found too. A contact is cleared only when all of its are gone.
    """
    # Not behind the change-share rail: a withdrawal is the candidate's right, not a rule change.
    contacts = web_withdrawn(ledger)
    if not contacts or dry_run:
        return WebDeletes()
    objects = [(mapping.website_visit.object, mapping.website_visit.contact),
               (mapping.job_view.object, mapping.job_view.contact)]  # fmt: skip
    result = delete_records(client, records_of_contacts(client, objects, contacts))
    waiting = {o.write.parent for o in result.outcomes if o.outcome is not Outcome.ACCEPTED}
    cleared = [c for c in contacts if c not in waiting]
    web_cleared(ledger, cleared, [obj for obj, _ in objects])
    refused = len(result.failed)
    if refused:
        log.warning(
            "web_delete_refused", records=refused, codes=sorted({f.error_code for f in result.failed})
        )
    return WebDeletes(len(result.succeeded), refused, len(cleared), result.stopped)
