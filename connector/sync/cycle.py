"""One sync cycle, the imperative shell: read org windows → ledger → re-score → diff → write → confirm.

Every step is safe to repeat: events are idempotent by id, cursors move with their events, writes are
absolute values keyed by Id or external id, and confirmations are recorded only for accepted records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from simple_salesforce.format import format_soql

from connector.config import OrgSource, Settings
from connector.config.salesforce import ObjectMapping, SalesforceSettings
from connector.errors import ApiLimitError, BudgetExceededError, FatalError, TransientError
from connector.events import format_time, parse_time
from connector.jobs import rescore
from connector.ledger import Ledger
from connector.ledger.sync_state import (
    DeadLetter,
    OrgRow,
    add_dead_letters,
    count_scored,
    finish_cycle,
    org_rows,
    pending_contacts,
    purge_contacts,
    record_hashes,
    save_hashes,
    save_org_rows,
    start_cycle,
)
from connector.sf.readers import Source, detect_changes, plan_window, read_window
from connector.sf.writer import WritePort, WriteResult, apply_plan
from connector.sync.plan import ContactPlan, contact_writes, plan_contact
from connector.sync.sources import (
    Batch,
    activity_events,
    contact_batch,
    detail_fields,
    history_events,
    profile_fields,
)

log = structlog.get_logger(__name__)
ORG_KEY = "org_id"
FIRST_SYNC = timedelta(days=400)  # first cycle reads this far back: longer than any rule's validity
IN_CHUNK = 200  # ids per IN (...) list: keeps GET URLs far below Salesforce's ~16 KB


class OrgPort(WritePort, Protocol):
    """What a cycle needs from the Salesforce client."""

    settings: SalesforceSettings

    def query_pages(self, soql: str, *, include_deleted: bool = True) -> Iterator[list[dict[str, Any]]]:
        """Pages of records for a SOQL query."""
        ...

    def count(self, soql: str) -> int:
        """COUNT() of a query."""
        ...

    def start_cycle(self) -> None:
        """Begin the cycle's budget guard."""
        ...

    def end_cycle(self) -> None:
        """End the cycle's budget guard."""
        ...


@dataclass
class CycleReport:
    """What one cycle did: the summary line and the status command's material."""

    kind: str
    status: str = "ok"
    reason: str = ""
    fetched: dict[str, int] = field(default_factory=dict)
    events_added: int = 0
    erased: int = 0
    scored: int = 0
    planned: int = 0
    writes: int = 0
    succeeded: int = 0
    dead: int = 0
    retriable: int = 0
    write_calls: int = 0
    oddities: Counter[str] = field(default_factory=Counter)
    plan: list[ContactPlan] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Plain counts for logs, the cycle table and metrics."""
        return {
            "status": self.status, "reason": self.reason, "fetched": self.fetched,
            "events_added": self.events_added, "erased": self.erased, "scored": self.scored,
            "planned": self.planned, "writes": self.writes, "succeeded": self.succeeded, "dead": self.dead,
            "retriable": self.retriable, "write_calls": self.write_calls, "oddities": dict(self.oddities),
        }  # fmt: skip


def ensure_org(client: OrgPort, ledger: Ledger) -> str:
    """Bind the ledger to the org it was made for; refuse any other org (sandbox vs production)."""
    rows = [r for page in client.query_pages("SELECT Id, IsSandbox FROM Organization", include_deleted=False)
            for r in page]  # fmt: skip
    if not rows:
        raise FatalError("the org returned no Organization record: cannot tell which org this is")
    org_id = str(rows[0]["Id"])[:15]
    bound = ledger.meta(ORG_KEY)
    if bound is None:
        ledger.set_meta(ORG_KEY, org_id)
    elif bound != org_id:
        raise FatalError(
            f"this ledger belongs to org {bound} but the configured login reached org {org_id}: use the"
            f" state folder made for that org (MSR_ENGAGE_HOME), or a fresh one for this org"
        )
    return org_id


def _fields(source: OrgSource, settings: Settings) -> tuple[str, ...]:
    wanted: list[str] = [*source.watched, "CreatedDate", "LastModifiedDate"]
    if source.contact:
        wanted.append(source.contact)
    for spec in source.events:
        wanted += [spec.time, *spec.only_if, *spec.attrs.values()]
    if _is_contacts(source, settings):
        c = _mapping(settings).contact
        wanted += [*profile_fields(c), *detail_fields(c)]
        if settings.sync.anonymised_field:
            wanted.append(settings.sync.anonymised_field)
    return tuple(dict.fromkeys(f for f in wanted if f and f != "Id"))


def _mapping(settings: Settings) -> ObjectMapping:
    return settings.salesforce.objects if settings.salesforce else ObjectMapping()


def _is_contacts(source: OrgSource, settings: Settings) -> bool:
    return source.object == _mapping(settings).contact.object and source.contact == "Id" and not source.events


def _cursor(ledger: Ledger, name: str, now: datetime) -> datetime:
    stored = ledger.cursor(name)
    return parse_time(stored) if stored else now - FIRST_SYNC


def _in_lists(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), IN_CHUNK):
        yield ids[start : start + IN_CHUNK]


def _recipients(client: OrgPort, source: OrgSource, ids: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    spec = source.recipients
    if spec is None or not ids:
        return found
    extra = f" AND ({spec.where})" if spec.where else ""
    for chunk in _in_lists(ids):
        soql = format_soql(
            "SELECT {:literal}, {:literal} FROM {:literal} WHERE {:literal} IN {}{:literal}",
            spec.parent, spec.contact, spec.object, spec.parent, list(chunk), extra,
        )  # fmt: skip
        for page in client.query_pages(soql, include_deleted=False):
            for row in page:
                found.setdefault(str(row[spec.parent]), []).append(str(row[spec.contact]))
    return found


def gather_source(
    client: OrgPort, ledger: Ledger, settings: Settings, source: OrgSource, now: datetime
) -> Batch:
    """Read one source's window, turn changed records into events, commit them with the cursor."""
    sf = client.settings
    name = f"sf:{source.name}"
    lookback, lag = timedelta(seconds=sf.lookback_seconds), timedelta(seconds=sf.lag_seconds)
    window = plan_window(_cursor(ledger, name, now), now, lookback=lookback, lag=lag)
    records = list(
        read_window(client, Source(source.object, _fields(source, settings), source.where), window)
    )
    contacts = _is_contacts(source, settings)
    watched = profile_fields(_mapping(settings).contact) if contacts else source.watched
    ids = [str(r["Id"]) for r in records]
    changes = detect_changes(records, record_hashes(ledger, source.name, ids), watched)
    if contacts:
        changed = {str(r["Id"]) for r in changes.changed}
        batch = contact_batch(records, _mapping(settings).contact, profile_changed=changed,
                              anonymised_field=settings.sync.anonymised_field)  # fmt: skip
    elif source.history is not None:
        batch = _history(client, source, window.start, window.end, changes.changed)
    else:
        recipients = _recipients(client, source, [str(r["Id"]) for r in changes.changed])
        batch = activity_events(source, changes.changed, recipients)
    if batch.erased:
        purge_contacts(ledger, batch.erased)
        batch.events = [e for e in batch.events if e.contact_id not in set(batch.erased)]
    ledger.append(batch.events, cursors={name: format_time(window.end)})
    save_hashes(ledger, source.name, changes.hashes)
    if batch.org_rows:
        save_org_rows(ledger, batch.org_rows, now, keep_lines=True)
    batch.oddities["records"] += len(records)
    return batch


def _history(client: OrgPort, source: OrgSource, start: datetime, end: datetime, changed: list[Any]) -> Batch:
    history = source.history
    assert history is not None  # the caller checked
    obj = history.object or (
        source.object[:-3] + "__History" if source.object.endswith("__c") else f"{source.object}History"
    )
    soql = format_soql(
        "SELECT Id, ParentId, Field, NewValue, CreatedDate FROM {:literal} WHERE Field = {}"
        " AND CreatedDate >= {} AND CreatedDate < {} ORDER BY CreatedDate, Id",
        obj, history.field, start, end,
    )  # fmt: skip
    rows = [row for page in client.query_pages(soql, include_deleted=False) for row in page]
    parent_ids = sorted({str(r["ParentId"]) for r in rows})
    fields = ", ".join(
        dict.fromkeys(["Id", source.contact, *(source.events[0].attrs.values() if source.events else ())])
    )
    parents: dict[str, Any] = {}
    for chunk in _in_lists(parent_ids):
        query = format_soql(
            "SELECT {:literal} FROM {:literal} WHERE Id IN {}", fields, source.object, list(chunk)
        )
        parents.update((str(r["Id"]), r) for page in client.query_pages(query) for r in page)
    batch = history_events(source, rows, parents)
    # A record created at a step has no history row for it: its first step comes from the record.
    created = [
        r for r in changed if r.get("CreatedDate") and r.get("CreatedDate") == r.get("LastModifiedDate")
    ]
    initial = activity_events(source.model_copy(update={"history": None}), created)
    batch.events += initial.events
    return batch


def plan_writes(ledger: Ledger, now: datetime) -> list[ContactPlan]:
    """Plans for every contact whose state differs from what the org shows (stores monotone merges)."""
    pending = pending_contacts(ledger)
    plans = [plan_contact(state, org) for state, org in pending]
    merged = [p.desired for p, (state, _) in zip(plans, pending, strict=True) if p.desired != state]
    if merged:
        ledger.save_states(merged, now)
    return [p for p in plans if p.contact_values or p.lines]


def confirm(
    ledger: Ledger, plans: Sequence[ContactPlan], result: WriteResult, mapping: ObjectMapping, now: datetime
) -> list[DeadLetter]:
    """Record what the org accepted as what it shows; return dead letters for what it refused."""
    by_contact = {p.contact_id: p for p in plans}
    known = org_rows(ledger, list(by_contact))
    rows: dict[str, OrgRow] = {}
    for write in result.succeeded:
        plan = by_contact.get(write.parent)
        if plan is None:
            continue
        row = rows.get(plan.contact_id) or known.get(plan.contact_id) or OrgRow(plan.contact_id, lines={})
        if write.object == mapping.contact.object:
            row = replace(row, **dict(plan.contact_values))
        else:
            rule = write.key_value.split(":", 1)[1]
            row = replace(row, lines={**(row.lines or {}), rule: plan.lines[rule]})
        rows[plan.contact_id] = row
    save_org_rows(ledger, rows.values(), now)
    return [
        DeadLetter(0, f.write.parent, f.write.object, f.write.key_field, f.write.key_value,
                   dict(f.write.values), f.error_code, f.message, now.isoformat())
        for f in result.failed
    ]  # fmt: skip


def run_cycle(
    client: OrgPort,
    ledger: Ledger,
    settings: Settings,
    now: datetime,
    *,
    kind: str = "poll",
    dry_run: bool = False,
    force: bool = False,
) -> CycleReport:
    """One cycle. `now` is read once by the caller; everything in the cycle uses it."""
    report = CycleReport(kind)
    cycle_id = start_cycle(ledger, kind, now)
    log.info("cycle_start", kind=kind, dry_run=dry_run)
    try:
        client.start_cycle()
        ensure_org(client, ledger)
        before = ledger.count_events()
        for source in settings.org_sources():
            batch = gather_source(client, ledger, settings, source, now)
            report.fetched[source.name] = batch.oddities.pop("records", 0)
            report.erased += len(batch.erased)
            report.oddities.update(batch.oddities)
        report.events_added = ledger.count_events() - before
        report.scored = rescore(ledger, settings, now, everyone=kind == "daily").scored
        plans = plan_writes(ledger, now)
        report.planned, report.plan = len(plans), plans
        writes = contact_writes(plans, _mapping(settings))
        report.writes = len(writes)
        first = ledger.meta("first_write_done") is None
        share = len(plans) / max(1, count_scored(ledger))
        guard = len(plans) > settings.sync.max_change_min_contacts and share > settings.sync.max_change_share
        if guard and not (force or first):
            report.status, report.reason = (
                "stopped",
                (
                    f"{len(plans)} contacts ({share:.0%}) would change, above max_change_share"
                    f" {settings.sync.max_change_share:.0%}: check the rules, then run again with --force"
                ),
            )
        elif dry_run:
            report.status = "dry_run"
        elif writes:
            result = apply_plan(client, writes, bulk_threshold=client.settings.bulk_threshold)
            letters = confirm(ledger, plans, result, _mapping(settings), now)
            add_dead_letters(ledger, letters)
            report.succeeded, report.dead = len(result.succeeded), len(letters)
            report.retriable, report.write_calls = len(result.retriable), result.calls
            if result.stopped:
                report.status, report.reason = "stopped", result.stopped
            ledger.set_meta("first_write_done", now.isoformat())
    except (ApiLimitError, BudgetExceededError, TransientError) as exc:
        report.status, report.reason = "stopped", str(exc)
    except Exception as exc:
        report.status, report.reason = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        client.end_cycle()
        finish_cycle(ledger, cycle_id, report.status, now, report.summary())
        log.info("cycle_done", **report.summary())
    return report


__all__ = ["CycleReport", "OrgPort", "ensure_org", "gather_source", "run_cycle"]
