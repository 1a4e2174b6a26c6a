"""The org sources of one job, and what each of them reads.

`[sync] step_history = "auto"` (the default) reads the application step's field history when the org
tracks it; the org is asked once at the start of each job (cycle, backfill, check), so an admin who
switches tracking on is followed without a restart. A step has the same event id whether it is read
from the history or from the record, so the switch never counts a step twice.
"""

from __future__ import annotations

import structlog

from connector.config import OrgSource, Settings
from connector.config.salesforce import ObjectMapping
from connector.sf.readers import QueryPort
from connector.sf.tracking import history_tracked
from connector.sync.sources import detail_fields, merge_fields, profile_fields

log = structlog.get_logger(__name__)
HISTORY_FIELDS = ("Id", "ParentId", "Field", "NewValue", "CreatedDate")  # what a history read selects


def mapping_of(settings: Settings) -> ObjectMapping:
    """The configured object mapping (MSR defaults without a [salesforce] section)."""
    return settings.salesforce.objects if settings.salesforce else ObjectMapping()


def step_tracked(client: QueryPort, settings: Settings) -> bool | None:
    """Whether the org tracks history on the application step field (None: it does not say)."""
    app = mapping_of(settings).application
    return history_tracked(client, app.object, app.step)


def org_sources(client: QueryPort, settings: Settings) -> tuple[OrgSource, ...]:
    """This job's org sources: with `step_history = "auto"`, history is read when the org tracks it."""
    if settings.sync.step_history != "auto" or settings.sources.salesforce is not None:
        return settings.org_sources()
    tracked = step_tracked(client, settings)
    log.debug("step_history_auto", tracked=tracked)
    return settings.org_sources(tracked=bool(tracked))


def is_contacts(source: OrgSource, settings: Settings) -> bool:
    """Whether a source is the contacts source (its records are the contacts themselves)."""
    return (
        source.object == mapping_of(settings).contact.object and source.contact == "Id" and not source.events
    )


def source_fields(source: OrgSource, settings: Settings) -> tuple[str, ...]:
    """The fields a source selects from its object (Id aside)."""
    wanted: list[str] = [*source.watched, "CreatedDate", "LastModifiedDate", *source.window_fields]
    if source.contact:
        wanted.append(source.contact)
    for spec in source.events:
        wanted += [spec.time, *spec.only_if, *spec.attrs.values()]
    if is_contacts(source, settings):
        c = mapping_of(settings).contact
        wanted += [*profile_fields(c), *detail_fields(c), *merge_fields()]
        if settings.sync.anonymised_field:
            wanted.append(settings.sync.anonymised_field)
    return tuple(dict.fromkeys(f for f in wanted if f and f != "Id"))


def history_object(source: OrgSource) -> str:
    """The field-history object a source with `history` reads ({Obj}History, {Name}__History)."""
    named = source.history.object if source.history is not None else ""
    if named:
        return named
    return source.object[:-3] + "__History" if source.object.endswith("__c") else f"{source.object}History"


def source_reads(sources: tuple[OrgSource, ...], settings: Settings) -> dict[str, tuple[str, ...]]:
    """Every object the sources read, with the fields read of it: what the integration user must see."""
    reads: dict[str, list[str]] = {}
    for source in sources:
        reads.setdefault(source.object, []).extend(["Id", *source_fields(source, settings)])
        if source.recipients is not None:
            r = source.recipients
            reads.setdefault(r.object, []).extend([r.parent, r.contact])
        if source.history is not None:
            reads.setdefault(history_object(source), []).extend(HISTORY_FIELDS)
    return {obj: tuple(dict.fromkeys(fields)) for obj, fields in reads.items()}
