"""The org sources of one job, and what each of them reads.

`[sync] step_history = "auto"` (the default) reads the application step's field history when the org
tracks it. The org is asked at the start of each nightly pass, backfill and check, and by a poll
cycle when the ledger's answer is older than a day (a poll every 2 minutes asked 720 times a day
before); so an admin who switches tracking on is followed by the next nightly pass, without a
restart. A step has the same event id whether it is read from the history or from the record, so
the switch never counts a step twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from connector.config import OrgSource, Settings
from connector.config.salesforce import ObjectMapping
from connector.ledger import Ledger
from connector.sf.readers import QueryPort
from connector.sf.tracking import history_tracked
from connector.sync.sources import detail_fields, merge_fields, profile_fields

log = structlog.get_logger(__name__)
HISTORY_FIELDS = ("Id", "ParentId", "Field", "NewValue", "CreatedDate")  # what a history read selects
ASK_TRACKING_EVERY = timedelta(days=1)  # how old the ledger's answer may be for a poll cycle to reuse it
_ANSWERS = {"true": True, "false": False, "none": None}


def mapping_of(settings: Settings) -> ObjectMapping:
    """The configured object mapping (MSR defaults without a [salesforce] section)."""
    return settings.salesforce.objects if settings.salesforce else ObjectMapping()


def step_tracked(client: QueryPort, settings: Settings) -> bool | None:
    """Whether the org tracks history on the application step field (None: it does not say)."""
    app = mapping_of(settings).application
    return history_tracked(client, app.object, app.step)


def org_sources(
    client: QueryPort, settings: Settings, remembered: tuple[Ledger, datetime, bool] | None = None
) -> tuple[OrgSource, ...]:
    """This job's org sources: with `step_history = "auto"`, history is read when the org tracks it.

    With `remembered` (the ledger, the job's `now`, whether an answer under a day old may be reused),
    the org's answer is kept in the ledger; without it, the org is asked.
    """
    if settings.sync.step_history != "auto" or settings.sources.salesforce is not None:
        return settings.org_sources()
    tracked = (
        _remembered_tracking(client, settings, *remembered) if remembered else step_tracked(client, settings)
    )
    log.debug("step_history_auto", tracked=tracked)
    return settings.org_sources(tracked=bool(tracked))


def _remembered_tracking(
    client: QueryPort, settings: Settings, ledger: Ledger, now: datetime, reuse: bool
) -> bool | None:
    app = mapping_of(settings).application
    key = f"step_history_tracked:{app.object}.{app.step}"
    answer, _, asked = (ledger.meta(key) or "").partition("@")
    if reuse and answer in _ANSWERS and asked:
        at = datetime.fromisoformat(asked)
        if at <= now < at + ASK_TRACKING_EVERY:
            return _ANSWERS[answer]
    tracked = step_tracked(client, settings)
    ledger.set_meta(key, f"{str(tracked).lower()}@{now.isoformat()}")
    return tracked


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
