"""Website visits and job views to the org: rows from web events, sent only when the org lacks them. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connector.config.salesforce import ObjectMapping
from connector.details import RecordWrite
from connector.events import Event
from connector.pixel.records import job_view_rows, visit_rows
from connector.sync.changes import content_hash


@dataclass(frozen=True)
class ChildRow:
    """One visit or job-view record a contact should have in the org, keyed by its external id."""

    write: RecordWrite
    digest: str  # hash of its values: equal to what the org accepted means nothing to send


@dataclass(frozen=True)
class WebPlan:
    """Child-record upserts for contacts with new web events, and what to remember once accepted."""

    writes: list[RecordWrite] = field(default_factory=list)
    hashes: dict[str, tuple[str, str]] = field(default_factory=dict)  # external id -> (contact, hash)
    contacts: list[str] = field(default_factory=list)


def child_rows(
    contacts: Sequence[str], events: Mapping[str, Sequence[Event]], mapping: ObjectMapping
) -> list[ChildRow]:
    """Visit rows (one per visit) and job-view rows (one per contact and vacancy) of these contacts."""
    visits, views = mapping.website_visit, mapping.job_view
    rows: list[ChildRow] = []
    for contact in contacts:
        mine = list(events.get(contact, ()))
        for obj, ext, found in (
            (visits.object, visits.external_id, visit_rows(mine, visits)),
            (views.object, views.external_id, job_view_rows(mine, views)),
        ):
            for row in found:
                values: dict[str, Any] = {name: value for name, value in row.items() if name != ext}
                write = RecordWrite(obj, ext, str(row[ext]), values, parent=contact)
                rows.append(ChildRow(write, content_hash(values)))
    return rows


def plan_web(contacts: Sequence[str], rows: Sequence[ChildRow], known: Mapping[str, str]) -> WebPlan:
    """The rows whose values differ from what the org last accepted (`known`: external id -> hash)."""
    plan = WebPlan(contacts=list(contacts))
    for row in rows:
        key = row.write.key_value
        if known.get(key) != row.digest:
            plan.writes.append(row.write)
            plan.hashes[key] = (row.write.parent, row.digest)
    return plan
