"""The write stage's call to the org (score lines and web records first, then contact fields) and the
record of what the org answered."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial

from connector.config import Settings
from connector.config.salesforce import ObjectMapping
from connector.details import RecordWrite, ShownDetails
from connector.ledger import Ledger
from connector.ledger.bulk_jobs import in_flight
from connector.ledger.sync_state import (
    DeadLetter,
    add_dead_letters,
    clear_dead_letters,
    dead_letters,
    save_shown,
    save_written,
    shown_details,
)
from connector.sf.port import OrgPort
from connector.sf.writer import Outcome, WriteResult, account, apply_plan
from connector.shell.sources import mapping_of
from connector.shell.web import confirm_web
from connector.sync.plan import ContactPlan, field_writes, line_writes, settle_refused
from connector.sync.web import WebPlan


def write_children_first(
    client: OrgPort, ledger: Ledger, settings: Settings, plans: list[ContactPlan], web: list[RecordWrite]
) -> tuple[list[ContactPlan], WriteResult]:
    """Score lines and web records first, then contact fields, so a refused line holds its total back."""
    mapping, sf = mapping_of(settings), client.settings
    # Writes inside a bulk job still running are not sent again; a contact with a line among them
    # keeps its fields back too, so its total never runs ahead of its lines.
    flying = in_flight(ledger)
    held = {w.parent for w in line_writes(plans, mapping) + web if (w.object, w.key_value) in flying}
    write = partial(apply_plan, client, bulk_threshold=sf.bulk_threshold, pause=client.pause,
                    bulk_deadline=sf.bulk_deadline_seconds)  # fmt: skip
    children = write([w for w in line_writes(plans, mapping) + web if (w.object, w.key_value) not in flying])
    held |= {o.write.parent for o in children.of(Outcome.IN_FLIGHT)}
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
    fields = [
        w
        for w in field_writes(plans, mapping)
        if w.parent not in held and (w.object, w.key_value) not in flying
    ]
    contacts = account(fields, {}, 0, children.stopped) if children.stopped else write(fields)
    outcomes = contacts.outcomes + children.outcomes
    stopped = children.stopped or contacts.stopped
    return plans, WriteResult(
        outcomes, children.calls + contacts.calls, stopped, children.jobs + contacts.jobs
    )


def confirm(
    ledger: Ledger, plans: Sequence[ContactPlan], result: WriteResult, mapping: ObjectMapping, now: datetime
) -> list[DeadLetter]:
    """Record what the org accepted as what it shows; return dead letters for what it refused."""
    by_contact = {p.contact_id: p for p in plans}
    known = shown_details(ledger, list(by_contact))
    rows: dict[str, ShownDetails] = {}
    for write in result.succeeded:
        plan = by_contact.get(write.parent)
        if plan is None:
            continue
        row = rows.get(plan.contact_id) or known.get(plan.contact_id) or ShownDetails(plan.contact_id)
        if write.object == mapping.contact.object:
            row = replace(row, details=replace(row.details, **dict(plan.values)))
        elif write.object == mapping.score_line.object:
            rule = write.key_value.split(":", 1)[1]
            row = replace(row, lines={**row.lines, rule: plan.lines[rule]})
        rows[plan.contact_id] = row
    save_shown(ledger, rows.values(), now)
    return [
        DeadLetter(0, f.write.parent, f.write.object, f.write.key_field, f.write.key_value,
                   dict(f.write.values), f.error_code, f.message, now.isoformat())
        for f in result.failed
    ]  # fmt: skip


def record_outcome(
    ledger: Ledger,
    plans: Sequence[ContactPlan],
    web: WebPlan,
    result: WriteResult,
    mapping: ObjectMapping,
    now: datetime,
    written: datetime | None = None,
) -> list[DeadLetter]:
    """Record what the org accepted (shown details, child hashes, accepted-write stamps at `written`,
    else `now`) and dead-letter what it refused; the caller holds the transaction."""
    letters = confirm(ledger, plans, result, mapping, now)
    confirm_web(ledger, web, result)
    save_written(ledger, [(w.object, w.key_value, w.parent) for w in result.succeeded], written or now)
    add_dead_letters(ledger, letters)
    return letters


def retry_dead_letters(ledger: Ledger) -> int:
    """Forget every dead letter and mark its contacts for re-scoring, so the next cycle plans them anew."""
    # Re-scored at the next cycle's now, not sent as the refused payload: time and activity may have
    # moved the contact since the org refused it.
    with ledger.transaction():
        ledger.mark_dirty({letter.contact_id for letter in dead_letters(ledger)})
        return clear_dead_letters(ledger)
