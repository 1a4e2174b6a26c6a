"""Diff what the ledger computed against what the org shows → the writes, and nothing else. Pure.

The stored state is already monotone against what the org showed (the re-score merges both), so the
plan only compares: a value the org lacks is written, nothing is merged here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from connector.config.salesforce import ObjectMapping
from connector.details import (
    DETAIL_NAMES,
    EMPTY_DETAILS,
    Band,
    BandBounds,
    LineFacts,
    RecordWrite,
    ShownDetails,
    StoredState,
)
from connector.sync.sources import picklists


@dataclass(frozen=True, slots=True)
class ContactPlan:
    """One contact's writes: the detail fields that differ from the org, and score lines to upsert."""

    contact_id: str
    values: Mapping[str, Any]  # our names (score, band, ...) -> the values the org should show
    lines: Mapping[str, LineFacts]  # rule -> the score line to upsert (points and facts)


# What the line of a rule that vanished from config becomes: no points, and no facts to explain any.
VANISHED = LineFacts(0)


def plan_contact(state: StoredState, shown: ShownDetails | None) -> ContactPlan:
    """What to write so the org shows `state`: the differing fields and score lines."""
    org = shown.details if shown is not None else EMPTY_DETAILS
    values = {
        name: new for name in DETAIL_NAMES if (new := getattr(state.details, name)) != getattr(org, name)
    }
    confirmed = shown.lines if shown is not None else {}
    # Any fact that differs writes the line: points, events counted, the last one's day, the next lapse.
    lines = {rule: line for rule, line in state.lines.items() if confirmed.get(rule) != line}
    # A rule that vanished from config still has a line in the org: it drops to zero, not left stale.
    lines.update(
        {rule: VANISHED for rule, line in confirmed.items() if rule not in state.lines and line != VANISHED}
    )
    return ContactPlan(state.contact_id, values, lines)


def contact_writes(plans: Iterable[ContactPlan], mapping: ObjectMapping) -> list[RecordWrite]:
    """Contact field updates by Id, then score-line upserts by external id `{contact_id}:{rule}`."""
    plans = list(plans)
    return field_writes(plans, mapping) + line_writes(plans, mapping)


def field_writes(plans: Iterable[ContactPlan], mapping: ObjectMapping) -> list[RecordWrite]:
    """Contact field updates by Id, in the org's labels."""
    c = mapping.contact
    fields = {name: getattr(c, name) for name in DETAIL_NAMES}
    bands, medals = picklists(c)
    encode: dict[str, Callable[[Any], str | None]] = {"band": bands.to_org, "medal": medals.to_org}
    return [
        RecordWrite(
            c.object,
            "Id",
            plan.contact_id,
            {
                fields[name]: encode[name](value) if name in encode else value
                for name, value in plan.values.items()
            },
            parent=plan.contact_id,
        )
        for plan in plans
        if plan.values
    ]


def line_writes(plans: Iterable[ContactPlan], mapping: ObjectMapping) -> list[RecordWrite]:
    """Score-line upserts by external id `{contact_id}:{rule}`."""
    sl = mapping.score_line
    return [
        RecordWrite(
            sl.object,
            sl.external_id,
            f"{plan.contact_id}:{rule}",
            {sl.contact: plan.contact_id, sl.rule: rule, sl.points: line.points, sl.events: line.events,
             sl.last_event_on: line.last_event_on, sl.lapses_on: line.lapses_on},
            parent=plan.contact_id,
        )
        for plan in plans
        for rule, line in sorted(plan.lines.items())
    ]  # fmt: skip


def settle_refused(
    plan: ContactPlan, shown: ShownDetails | None, refused: Collection[str], bands: BandBounds
) -> ContactPlan:
    """The plan with the score the org's lines add up to, once the org refused some of its lines.

    Writing the intended total beside a refused line would show a score its lines do not explain;
    the medal and dates are still written, and the total follows when the dead letter is retried.
    """
    if not refused:
        return plan
    lines = dict(shown.lines) if shown is not None else {}
    lines.update({rule: line for rule, line in plan.lines.items() if rule not in refused})
    org = shown.details if shown is not None else EMPTY_DETAILS
    total = sum(line.points for line in lines.values()) if lines else org.score
    values = {k: v for k, v in plan.values.items() if k not in ("score", "band")}
    band = Band.of(total, bands) if total is not None else org.band
    if total != org.score:
        values["score"] = total
    if band != org.band:
        values["band"] = band
    return replace(plan, values=values)
