"""Website visits and job views to the org: rows from web events, sent only when the org lacks them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from connector.config.salesforce import ObjectMapping
from connector.ledger import Ledger
from connector.ledger.sync_state import child_hashes, confirm_children, web_pending
from connector.pixel.records import job_view_rows, visit_rows
from connector.sf.writer import Outcome, RecordWrite, WriteResult


@dataclass(frozen=True)
class WebPlan:
    """Child-record upserts for contacts with new web events, and what to remember once accepted."""

    writes: list[RecordWrite] = field(default_factory=list)
    hashes: dict[str, tuple[str, str]] = field(default_factory=dict)  # external id -> (contact, hash)
    contacts: list[str] = field(default_factory=list)


def _hash(values: dict[str, Any]) -> str:
    blob = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def plan_web(ledger: Ledger, mapping: ObjectMapping) -> WebPlan:
    """Visit rows (one per visit) and job-view rows (one per contact and vacancy) that differ from the org."""
    contacts = web_pending(ledger)
    if not contacts:
        return WebPlan()
    events = ledger.events_of(contacts)
    visits, views = mapping.website_visit, mapping.job_view
    rows: list[tuple[str, str, str, dict[str, Any]]] = []
    for contact in contacts:
        mine = events.get(contact, [])
        rows += [(visits.object, visits.external_id, contact, r) for r in visit_rows(mine, visits)]
        rows += [(views.object, views.external_id, contact, r) for r in job_view_rows(mine, views)]
    known = child_hashes(ledger, [str(row[ext]) for _, ext, _, row in rows])
    plan = WebPlan(contacts=contacts)
    for obj, ext, contact, row in rows:
        key = str(row[ext])
        values = {name: value for name, value in row.items() if name != ext}
        digest = _hash(values)
        if known.get(key) != digest:
            plan.writes.append(RecordWrite(obj, ext, key, values, parent=contact))
            plan.hashes[key] = (contact, digest)
    return plan


def confirm_web(ledger: Ledger, plan: WebPlan, result: WriteResult) -> None:
    """Remember what the org accepted; a contact leaves `web_pending` once all its planned records were.

    Waiting is the plan minus what was accepted, not a list of failures: a record the writer never
    reached (the cycle stopped first) keeps its contact pending as surely as one still locked. A refused
    record keeps it too, behind its dead letter, so `dead-letters --retry` plans it again.
    """
    accepted = {(o.write.object, o.write.key_value) for o in result.of(Outcome.ACCEPTED)}
    mine = [w for w in plan.writes if (w.object, w.key_value) in accepted]
    waiting = {w.parent for w in plan.writes if (w.object, w.key_value) not in accepted}
    confirm_children(
        ledger,
        [(w.key_value, *plan.hashes[w.key_value]) for w in mine],
        [c for c in plan.contacts if c not in waiting],
    )
