"""Website visits and job views to the org: rows from web events, sent only when the org lacks them. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from connector.config.salesforce import ObjectMapping
from connector.details import RecordWrite
from connector.events import Event, format_time, parse_time
from connector.pixel.records import job_view_rows, visit_rows
from connector.sync.changes import content_hash


class FieldKind(StrEnum):
    """How the org gives a field's value back (what its read is compared in)."""

    ID = "id"
    TIME = "datetime"
    NUMBER = "number"
    TEXT = "text"


ID, TIME, NUMBER, TEXT = FieldKind.ID, FieldKind.TIME, FieldKind.NUMBER, FieldKind.TEXT


@dataclass(frozen=True)
class ChildSpec:
    """A child object the connector writes: its external id and the kind of each field it sets."""

    object: str
    external_id: str
    kinds: Mapping[str, FieldKind]

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields to read back: the external id and every field the connector writes."""
        return (self.external_id, *self.kinds)


def web_specs(mapping: ObjectMapping) -> tuple[ChildSpec, ChildSpec]:
    """The website-visit and job-view objects as the connector writes them."""
    v, j = mapping.website_visit, mapping.job_view
    return (
        ChildSpec(v.object, v.external_id, {v.contact: ID, v.visited_at: TIME, v.pages: NUMBER,
                                            v.landing_url: TEXT, v.duration_seconds: NUMBER}),
        ChildSpec(j.object, j.external_id, {j.contact: ID, j.job: ID, j.first_viewed: TIME,
                                            j.last_viewed: TIME, j.view_count: NUMBER}),
    )  # fmt: skip


def _org_form(kind: FieldKind, value: Any) -> Any:
    # One form for what we write and what the org gives back (ids by their 15 case-sensitive
    # characters, whole seconds, numbers as floats, no empty text): otherwise our own write, read
    # back, would look changed and be sent again every cycle.
    if value is None or value == "":
        return None
    try:
        if kind == NUMBER and not isinstance(value, bool):
            return float(value)
        if kind == TIME:
            return format_time(parse_time(value).replace(microsecond=0))
    except ValueError:
        return value
    if kind == ID:
        return str(value)[:15]  # the 18-character form only adds a case checksum
    return value


def org_digest(spec: ChildSpec, values: Mapping[str, Any]) -> str:
    """A hash of a child record's values as the org holds them: equal for what we wrote and its read."""
    return content_hash({name: _org_form(kind, values.get(name)) for name, kind in spec.kinds.items()})


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
    visits, views = web_specs(mapping)
    rows: list[ChildRow] = []
    for contact in contacts:
        mine = list(events.get(contact, ()))
        for spec, found in (
            (visits, visit_rows(mine, mapping.website_visit)),
            (views, job_view_rows(mine, mapping.job_view)),
        ):
            ext = spec.external_id
            for row in found:
                values: dict[str, Any] = {name: value for name, value in row.items() if name != ext}
                write = RecordWrite(spec.object, ext, str(row[ext]), values, parent=contact)
                rows.append(ChildRow(write, org_digest(spec, values)))
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
