"""Diff what the ledger computed against what the org shows → the writes, and nothing else. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from connector.config import ContactKind
from connector.config.salesforce import ObjectMapping
from connector.ledger import StateRow
from connector.ledger.sync_state import OrgRow
from connector.scoring import EMPTY_DETAILS, ContactState, keep_monotone
from connector.sf.writer import RecordWrite
from connector.shell.rescore import state_row, stored_details

_DETAILS = ("score", "band", "medal", "first_qualified_on", "first_placed_on")


@dataclass(frozen=True, slots=True)
class ContactPlan:
    """One contact's writes, and the state to store after merging what the org already shows."""

    contact_id: str
    desired: StateRow
    contact_values: Mapping[str, Any]  # our names (score, band, ...) -> absolute values to write
    lines: Mapping[str, int]  # rule -> points to upsert


def _org_details(org: OrgRow | None) -> StateRow | None:
    if org is None:
        return None
    return StateRow(org.contact_id, "candidate", org.score, org.band, org.medal, org.first_qualified_on,
                    org.first_placed_on, None, {})  # fmt: skip


def plan_contact(state: StateRow, org: OrgRow | None) -> ContactPlan:
    """What to write so the org shows `state`, never lowering a medal or moving a date the org shows."""
    shown = stored_details(_org_details(org))
    current = ContactState(state.contact_id, ContactKind(state.kind), stored_details(state) or EMPTY_DETAILS)
    merged = keep_monotone(shown, current)
    desired = replace(state_row(merged), last_activity_on=state.last_activity_on, lines=state.lines)
    values: dict[str, Any] = {}
    for name in _DETAILS:
        new, old = getattr(desired, name), (getattr(org, name) if org else None)
        if new != old:
            values[name] = new
    confirmed = (org.lines if org else None) or {}
    lines = {rule: points for rule, points in desired.lines.items() if confirmed.get(rule) != points}
    # A rule that vanished from config still has a line in the org: it drops to zero, not left stale.
    lines.update({rule: 0 for rule, points in confirmed.items() if rule not in desired.lines and points != 0})
    return ContactPlan(state.contact_id, desired, values, lines)


def contact_writes(plans: Iterable[ContactPlan], mapping: ObjectMapping) -> list[RecordWrite]:
    """Contact field updates by Id, then score-line upserts by external id `{contact_id}:{rule}`."""
    c, sl = mapping.contact, mapping.score_line
    fields = {"score": c.score, "band": c.band, "medal": c.medal,
              "first_qualified_on": c.first_qualified_on, "first_placed_on": c.first_placed_on}  # fmt: skip
    pictures = {"band": c.band_values, "medal": c.medal_values}
    writes: list[RecordWrite] = []
    line_writes: list[RecordWrite] = []
    for plan in plans:
        if plan.contact_values:
            values = {
                fields[name]: (pictures[name][value] if name in pictures and value is not None else value)
                for name, value in plan.contact_values.items()
            }
            writes.append(RecordWrite(c.object, "Id", plan.contact_id, values, parent=plan.contact_id))
        for rule, points in sorted(plan.lines.items()):
            values = {sl.contact: plan.contact_id, sl.rule: rule, sl.points: points}
            line_writes.append(
                RecordWrite(
                    sl.object, sl.external_id, f"{plan.contact_id}:{rule}", values, parent=plan.contact_id
                )
            )
    return writes + line_writes
