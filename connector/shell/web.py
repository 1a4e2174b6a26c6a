"""The web write-back step: contacts with new web events → visit / job-view upserts → what the org took."""

from __future__ import annotations

from connector.config.salesforce import ObjectMapping
from connector.ledger import Ledger
from connector.ledger.consent import consented
from connector.ledger.sync_state import child_hashes, confirm_children, web_pending
from connector.sf.writer import Outcome, WriteResult
from connector.sync.web import WebPlan, child_rows, plan_web


def gather_web(ledger: Ledger, mapping: ObjectMapping) -> WebPlan:
    """The visit and job-view records of contacts with new web events that the org lacks."""
    contacts = web_pending(ledger)
    if not contacts:
        return WebPlan()
    # No record is written for a contact whose consent is not yes now, whatever events remain; the
    # contact stays in the plan, so its pending mark is cleared with nothing sent.
    allowed = consented(ledger, contacts)
    rows = child_rows([c for c in contacts if c in allowed], ledger.events_of(allowed), mapping)
    return plan_web(contacts, rows, child_hashes(ledger, [row.write.key_value for row in rows]))


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
