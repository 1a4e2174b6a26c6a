"""The web write-back step: contacts with new web events → visit / job-view upserts → what the org took."""

from __future__ import annotations

from connector.config.salesforce import ObjectMapping
from connector.ledger import Ledger
from connector.ledger.sync_state import child_hashes, confirm_children, web_pending
from connector.sf.writer import WriteResult
from connector.sync.web import WebPlan, child_rows, plan_web


def gather_web(ledger: Ledger, mapping: ObjectMapping) -> WebPlan:
    """The visit and job-view records of contacts with new web events that the org lacks."""
    contacts = web_pending(ledger)
    if not contacts:
        return WebPlan()
    rows = child_rows(contacts, ledger.events_of(contacts), mapping)
    return plan_web(contacts, rows, child_hashes(ledger, [row.write.key_value for row in rows]))


def confirm_web(ledger: Ledger, plan: WebPlan, result: WriteResult) -> None:
    """Remember what the org accepted; contacts with nothing refused or left over are in sync."""
    accepted = [
        (w.key_value, *plan.hashes[w.key_value]) for w in result.succeeded if w.key_value in plan.hashes
    ]
    unsettled = {
        f.write.parent for f in (*result.failed, *result.retriable) if f.write.key_value in plan.hashes
    }
    confirm_children(ledger, accepted, [c for c in plan.contacts if c not in unsettled])
