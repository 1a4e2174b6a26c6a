"""confirm_web on a real ledger: a contact leaves web_pending only when each of its records was accepted."""

from __future__ import annotations

from pathlib import Path

from connector.details import RecordWrite
from connector.events import WEB_VISIT, make_event
from connector.ledger import Ledger
from connector.ledger.sync_state import child_hashes, web_pending
from connector.sf.writer import LOCKED, Outcome, WriteOutcome, account
from connector.shell.web import confirm_web
from connector.sync.web import WebPlan
from tests.pixel.helpers import T0

CONTACTS = ("003A", "003B", "003C", "003D")


def visit(contact: str, n: int) -> RecordWrite:
    """One website-visit upsert of `contact`."""
    return RecordWrite("Website_Visit__c", "External_Id__c", f"{contact}-v{n}", {"Pages__c": n}, contact)


def test_only_contacts_whose_every_record_was_accepted_leave_web_pending(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.db")
    ledger.append([make_event(c, WEB_VISIT, T0, {"visit_id": "v"}) for c in CONTACTS])
    writes = [visit(c, n) for c in CONTACTS for n in (1, 2)]
    plan = WebPlan(writes, {w.key_value: (w.parent, f"h-{w.key_value}") for w in writes}, list(CONTACTS))
    # 003A: both accepted. 003B: one still locked. 003C: one refused. 003D: the cycle stopped first.
    answers = {i: WriteOutcome(w, Outcome.ACCEPTED) for i, w in enumerate(writes[:7])}
    answers[3] = WriteOutcome(writes[3], Outcome.RETRIABLE, LOCKED, "busy")
    answers[5] = WriteOutcome(writes[5], Outcome.REFUSED, "FIELD_CUSTOM_VALIDATION_EXCEPTION", "no")
    confirm_web(ledger, plan, account(writes, answers, stopped="HTTP 503"))
    assert web_pending(ledger) == ["003B", "003C", "003D"]
    accepted = [w.key_value for i, w in enumerate(writes) if i not in (3, 5, 7)]
    assert sorted(child_hashes(ledger, [w.key_value for w in writes])) == sorted(accepted)
    ledger.close()
