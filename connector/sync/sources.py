"""Org records → events and org-shown details. Pure: records in, plain data out.

Event ids are derived from (source, record id, kind, event time) (`events.org_event_id`), so re-reading
a record in an overlapping window, a second open of the same e-mail (FirstOpenedDate does not move), or
a record a merge moved to the surviving contact, adds nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from connector.config import OrgSource
from connector.config.salesforce import ContactFields
from connector.details import (
    DETAIL_NAMES,
    Band,
    ContactKind,
    ErasureReason,
    Medal,
    Picklist,
    RecruitmentDetails,
    ShownDetails,
)
from connector.events import (
    CONTACT_UPDATED,
    Event,
    derive_id,
    format_time,
    make_event,
    org_event_id,
    parse_time,
)
from connector.sync.changes import Record, field_value

CONTACT_PREFIX = "003"  # Contact ids start with this key prefix in every org
# Set on a record deleted because it lost a merge: the id of the record that remains (queryAll shows it).
MASTER_RECORD = "MasterRecordId"


@dataclass
class Batch:
    """What one window of one source yields."""

    events: list[Event] = field(default_factory=list)
    shown: list[ShownDetails] = field(default_factory=list)
    erased: dict[str, ErasureReason] = field(default_factory=dict)  # contact -> why
    merged: dict[str, str] = field(default_factory=dict)  # merge loser -> survivor
    added: int = 0  # events the ledger did not have yet
    withdrawn: list[str] = field(default_factory=list)  # contacts whose consent went yes -> no
    oddities: Counter[str] = field(default_factory=Counter)


def _contacts(source: OrgSource, record: Record, recipients: Mapping[str, Sequence[str]]) -> list[str]:
    found = (
        recipients.get(str(record.get("Id")), ())
        if source.recipients
        else [field_value(record, source.contact)]
    )
    return [c for c in found if isinstance(c, str) and c.startswith(CONTACT_PREFIX)]


def _allowed(value: Any, wanted: Any) -> bool:
    return value in wanted if isinstance(wanted, list) else value == wanted


def activity_events(
    source: OrgSource, records: Iterable[Record], recipients: Mapping[str, Sequence[str]] | None = None
) -> Batch:
    """Events for changed records of an activity source (applications, e-mails, appointments)."""
    batch = Batch()
    for record in records:
        if record.get("IsDeleted"):
            batch.oddities["deleted_record"] += 1  # history stays: the points were earned
            continue
        contacts = _contacts(source, record, recipients or {})
        if not contacts:
            batch.oddities["no_contact"] += 1
            continue
        for spec in source.events:
            raw = field_value(record, spec.time)
            if raw is None or not all(_allowed(field_value(record, p), v) for p, v in spec.only_if.items()):
                continue
            try:
                at = parse_time(raw)
            except ValueError:
                batch.oddities["bad_time"] += 1
                continue
            attrs = {name: field_value(record, path) for name, path in spec.attrs.items()}
            event_id = org_event_id(source.name, record.get("Id"), spec.kind, at)
            for contact in contacts:
                batch.events.append(make_event(contact, spec.kind, at, attrs, id=event_id))
    return batch


def history_events(source: OrgSource, rows: Iterable[Record], parents: Mapping[str, Record]) -> Batch:
    """One event per field-history row (every transition A→B→C), with attributes from the parent."""
    batch = Batch()
    history = source.history
    if history is None:
        return batch
    for row in rows:
        parent = parents.get(str(row.get("ParentId")))
        if parent is None:
            batch.oddities["history_without_parent"] += 1
            continue
        contacts = _contacts(source, parent, {})
        if not contacts or row.get("NewValue") in (None, ""):
            batch.oddities["no_contact" if not contacts else "empty_history_value"] += 1
            continue
        at = parse_time(row.get("CreatedDate"))
        spec = source.events[0] if source.events else None
        attrs = {name: field_value(parent, path) for name, path in (spec.attrs.items() if spec else ())}
        attrs[history.attr] = row["NewValue"]
        # The id a read of the record itself gives the same transition, so reading history, or
        # switching it on or off, never counts a step twice.
        event_id = org_event_id(source.name, parent.get("Id"), history.kind, at)
        for contact in contacts:
            batch.events.append(make_event(contact, history.kind, at, attrs, id=event_id))
    return batch


def _decode(picklist: Picklist[Any], label: Any, batch: Batch) -> Any:
    try:
        return picklist.from_org(label)
    except ValueError:
        batch.oddities[f"unknown_{picklist.enum.__name__.lower()}_value"] += 1
        return None


def org_day(value: Any) -> date | None:
    """A Date field's value as the org gives it; anything that is not a date reads as None."""
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def picklists(fields: ContactFields) -> tuple[Picklist[Band], Picklist[Medal]]:
    """The band and medal codecs of a contact mapping (our values ↔ the org's labels)."""
    return Picklist(Band, fields.band_values), Picklist(Medal, fields.medal_values)


def contact_batch(
    records: Iterable[Record],
    fields: ContactFields,
    *,
    profile_changed: set[str],
    anonymised_field: str = "",
) -> Batch:
    """From Contact records: erasures, merges (deleted, with `MasterRecordId`), `contact.updated` events
    (kind, consent) for contacts whose profile changed, and the recruitment details each one shows."""
    batch = Batch()
    for record in records:
        cid = str(record.get("Id"))
        survivor = record.get(MASTER_RECORD)
        if record.get("IsDeleted") and isinstance(survivor, str) and survivor.startswith(CONTACT_PREFIX):
            batch.merged[cid] = survivor
            continue
        if record.get("IsDeleted"):
            batch.erased[cid] = ErasureReason.DELETED
            continue
        if anonymised_field and record.get(anonymised_field):
            batch.erased[cid] = ErasureReason.ANONYMISED
            continue
        record_type = field_value(record, fields.record_type)
        kind = {fields.candidate_record_type: ContactKind.CANDIDATE,
                fields.contact_person_record_type: ContactKind.CONTACT_PERSON}.get(record_type)  # fmt: skip
        if kind is None:
            batch.oddities["unknown_record_type"] += 1
        if cid in profile_changed:
            attrs: dict[str, Any] = {"tracking_consent": bool(field_value(record, fields.tracking_consent))}
            if kind is not None:
                attrs["kind"] = kind.value
            at = parse_time(record.get("SystemModstamp"))
            event_id = derive_id("contacts", cid, format_time(at), attrs)
            batch.events.append(make_event(cid, CONTACT_UPDATED, at, attrs, id=event_id))
        batch.shown.append(shown_of(record, fields, batch))
    return batch


def shown_of(record: Record, fields: ContactFields, batch: Batch) -> ShownDetails:
    """The recruitment details a Contact record shows; unknown picklist labels count as oddities."""
    bands, medals = picklists(fields)
    score = field_value(record, fields.score)
    details = RecruitmentDetails(
        score=int(score) if isinstance(score, int | float) else None,
        band=_decode(bands, field_value(record, fields.band), batch),
        medal=_decode(medals, field_value(record, fields.medal), batch),
        first_qualified_on=org_day(field_value(record, fields.first_qualified_on)),
        first_placed_on=org_day(field_value(record, fields.first_placed_on)),
        heating_up=field_value(record, fields.heating_up) is True,
        last_engaged_on=org_day(field_value(record, fields.last_engaged_on)),
        last_engaged_by=str(field_value(record, fields.last_engaged_by) or "") or None,
        explanation=str(field_value(record, fields.explanation) or "") or None,
    )
    return ShownDetails(str(record.get("Id")), details)


def profile_fields(fields: ContactFields) -> tuple[str, ...]:
    """The Contact fields whose change makes a `contact.updated` event (kind and consent)."""
    return (fields.record_type, fields.tracking_consent)


def merge_fields() -> tuple[str, ...]:
    """The Contact fields that tell a merge from a deletion."""
    return (MASTER_RECORD,)


def detail_fields(fields: ContactFields) -> tuple[str, ...]:
    """The Contact fields holding the recruitment details the org shows."""
    return tuple(getattr(fields, name) for name in DETAIL_NAMES)
