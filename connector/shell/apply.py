"""The write stage's call to the org: score lines and web records first, then contact fields."""

from __future__ import annotations

from connector.config import Settings
from connector.details import RecordWrite
from connector.ledger import Ledger
from connector.ledger.sync_state import clear_dead_letters, dead_letters, shown_details
from connector.sf.port import OrgPort
from connector.sf.writer import WriteResult, account, apply_plan
from connector.shell.sources import mapping_of
from connector.sync.plan import ContactPlan, field_writes, line_writes, settle_refused


def write_children_first(
    client: OrgPort, ledger: Ledger, settings: Settings, plans: list[ContactPlan], web: list[RecordWrite]
) -> tuple[list[ContactPlan], WriteResult]:
    """Score lines and web records first, then contact fields, so a refused line holds its total back."""
    mapping, threshold = mapping_of(settings), client.settings.bulk_threshold
    children = apply_plan(client, line_writes(plans, mapping) + web, bulk_threshold=threshold)
    refused: dict[str, set[str]] = {}
    for failure in children.failed:
        if failure.write.object == mapping.score_line.object:
            refused.setdefault(failure.write.parent, set()).add(failure.write.key_value.split(":", 1)[1])
    if refused:
        shown = shown_details(ledger, list(refused))
        bands = settings.scoring.bands
        plans = [
            settle_refused(p, shown.get(p.contact_id), refused.get(p.contact_id, ()), bands) for p in plans
        ]
    fields = field_writes(plans, mapping)
    if children.stopped:
        contacts = account(fields, {}, 0, children.stopped)
    else:
        contacts = apply_plan(client, fields, bulk_threshold=threshold)
    outcomes = contacts.outcomes + children.outcomes
    return plans, WriteResult(outcomes, children.calls + contacts.calls, children.stopped or contacts.stopped)


def retry_dead_letters(ledger: Ledger) -> int:
    """Forget every dead letter and mark its contacts for re-scoring, so the next cycle plans them anew."""
    # Re-scored at the next cycle's now, not sent as the refused payload: time and activity may have
    # moved the contact since the org refused it.
    with ledger.transaction():
        ledger.mark_dirty({letter.contact_id for letter in dead_letters(ledger)})
        return clear_dead_letters(ledger)
