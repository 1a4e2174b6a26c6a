"""Reading the org: each source's window → changed records → events, committed with the cursor."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from simple_salesforce.format import format_soql

from connector.config import OrgSource, Settings
from connector.details import ShownDetails
from connector.errors import FatalError
from connector.events import format_time, parse_time
from connector.ledger import Ledger
from connector.ledger.erasure import erase_contacts, tombstoned
from connector.ledger.sync_state import (
    record_hashes,
    save_hashes,
    save_job_numbers,
    save_shown,
    shown_details,
    written_at,
)
from connector.sf.port import OrgPort
from connector.sf.readers import Source, Window, plan_window, read_window
from connector.shell.by_id import in_lists
from connector.shell.consent import append_noting_consent
from connector.shell.merge import merge_in_ledger
from connector.shell.sources import HISTORY_FIELDS, history_object, is_contacts, mapping_of, source_fields
from connector.sync.changes import Record, detect_changes
from connector.sync.readback import current_reads
from connector.sync.sources import (
    Batch,
    activity_events,
    contact_batch,
    detail_fields,
    history_events,
    profile_fields,
    shown_of,
)

ORG_KEY = "org_id"
ENVIRONMENT_KEY = "org_environment"  # production or sandbox, bound with the org id
REFRESH_BY_ID_MAX = 2000  # above this many contacts, a refresh reads the recent changes, not by Id
FIRST_SYNC = timedelta(days=400)  # first cycle reads this far back: longer than any rule's validity


def ensure_org(client: OrgPort, ledger: Ledger) -> str:
    """Bind the ledger to the org it was made for; refuse any other org (sandbox vs production).

    The org id comes from the login's identity URL, so an idle cycle spends no call on it; only a
    login that did not name its org costs one query.
    """
    org_id = client.org_id
    if not org_id:
        query = "SELECT Id FROM Organization"
        rows = [r for page in client.query_pages(query, include_deleted=False) for r in page]
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
    environment = client.settings.org_environment
    kind = ledger.meta(ENVIRONMENT_KEY)
    if kind is None:
        ledger.set_meta(ENVIRONMENT_KEY, environment)
    elif kind != environment:
        raise FatalError(
            f"this ledger belongs to a {kind} org but [salesforce] environment says {environment}: an org"
            f" is one or the other; set environment = {kind!r} (or use a fresh state folder)"
        )
    return org_id


def _cursor(ledger: Ledger, name: str, now: datetime) -> datetime:
    stored = ledger.cursor(name)
    return parse_time(stored) if stored else now - FIRST_SYNC


def _recipients(client: OrgPort, source: OrgSource, ids: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    spec = source.recipients
    if spec is None or not ids:
        return found
    extra = f" AND ({spec.where})" if spec.where else ""
    for chunk in in_lists(ids):
        soql = format_soql(
            "SELECT {:literal}, {:literal} FROM {:literal} WHERE {:literal} IN {}{:literal}",
            spec.parent, spec.contact, spec.object, spec.parent, list(chunk), extra,
        )  # fmt: skip
        for page in client.query_pages(soql, include_deleted=False):
            for row in page:
                found.setdefault(str(row[spec.parent]), []).append(str(row[spec.contact]))
    return found


def source_window(client: OrgPort, ledger: Ledger, cursor_name: str, now: datetime) -> Window:
    """The next window after a stored cursor: `[cursor - lookback, now - lag)`."""
    sf = client.settings
    lookback, lag = timedelta(seconds=sf.lookback_seconds), timedelta(seconds=sf.lag_seconds)
    return plan_window(_cursor(ledger, cursor_name, now), now, lookback=lookback, lag=lag)


def gather_source(
    client: OrgPort,
    ledger: Ledger,
    settings: Settings,
    source: OrgSource,
    now: datetime,
    window: Window | None = None,
) -> Batch:
    """Read one source's window, turn changed records into events, commit them with the cursor."""
    name = f"sf:{source.name}"
    window = window or source_window(client, ledger, name, now)
    fields, bulk_above = source_fields(source, settings), client.settings.bulk_query_threshold
    wanted = Source(source.object, fields, source.where, source.window_fields)
    records = list(read_window(client, wanted, window, bulk_above=bulk_above))
    contacts = is_contacts(source, settings)
    watched = profile_fields(mapping_of(settings).contact) if contacts else source.watched
    ids = [str(r["Id"]) for r in records]
    changes = detect_changes(records, record_hashes(ledger, source.name, ids), watched)
    if contacts:
        changed = {str(r["Id"]) for r in changes.changed}
        batch = contact_batch(records, mapping_of(settings).contact, profile_changed=changed,
                              anonymised_field=settings.sync.anonymised_field)  # fmt: skip
        batch.shown = _not_older_than_written(ledger, source.object, records, batch)
    elif source.history is not None:
        batch = _history(client, source, window.start, window.end, changes.changed)
    else:
        recipients = _recipients(client, source, [str(r["Id"]) for r in changes.changed])
        batch = activity_events(source, changes.changed, recipients)
    # One unit of work: a crash anywhere in it leaves the source exactly as before the read.
    with ledger.transaction():
        if batch.merged:  # before the events: a survivor's new events join the history moved to it
            batch.merged = merge_in_ledger(ledger, mapping_of(settings), batch.merged, now)
        erased = set(batch.erased) | _refuse_erased(ledger, batch)
        if batch.erased:
            new = erase_contacts(ledger, batch.erased, now)
            batch.erased = {cid: batch.erased[cid] for cid in new}
        batch.events = [e for e in batch.events if e.contact_id not in erased]
        batch.shown = [s for s in batch.shown if s.contact_id not in erased]
        batch.added, batch.withdrawn = append_noting_consent(ledger, batch.events, source.name, now)
        ledger.set_cursor(name, format_time(window.end), now)
        save_hashes(ledger, source.name, changes.hashes)
        if batch.shown:
            _record_shown(ledger, batch.shown, now)
    batch.oddities["records"] += len(records)
    return batch


def _refuse_erased(ledger: Ledger, batch: Batch) -> set[str]:
    """The erased contacts this batch names; their events and details are refused (counted)."""
    named = {e.contact_id for e in batch.events} | {s.contact_id for s in batch.shown}
    erased = tombstoned(ledger, named)
    if erased:
        batch.oddities["erased_contact"] += sum(e.contact_id in erased for e in batch.events)
    return erased


def _not_older_than_written(
    ledger: Ledger, obj: str, records: Sequence[Record], batch: Batch
) -> list[ShownDetails]:
    """The shown details of contacts whose read is not older than our accepted write of them: under
    commit lag the org still shows the version before it, which must not undo what it confirmed."""
    current, older = current_reads(records, written_at(ledger, obj, [str(r["Id"]) for r in records]))
    if older:
        batch.oddities["older_than_our_write"] += older
    keep = {str(r["Id"]) for r in current}
    return [shown for shown in batch.shown if shown.contact_id in keep]


def _record_shown(ledger: Ledger, shown: Sequence[ShownDetails], now: datetime) -> list[str]:
    """Keep what the org shows. A scored contact whose shown details changed is marked for re-scoring,
    so its state is merged with them (a medal set by hand in the org is never written over); return
    those contacts. An unscored contact needs no mark: its first events make it dirty, and the
    re-score merges then."""
    ids = [r.contact_id for r in shown]
    stored, known = ledger.states(ids), shown_details(ledger, ids)
    changed = [
        r.contact_id
        for r in shown
        if r.contact_id in stored and (r.contact_id not in known or known[r.contact_id].details != r.details)
    ]
    save_shown(ledger, shown, now, keep_lines=True)
    ledger.mark_dirty(changed)
    return changed


def refresh_shown(client: OrgPort, ledger: Ledger, settings: Settings, contact_ids: Sequence[str],
                  now: datetime) -> list[str]:  # fmt: skip
    """Read what the org shows now for contacts about to be written (no lag: a recruiter's edit of a
    minute ago counts) and keep it; return the contacts whose shown details changed.

    The windowed contacts source waits `lag_seconds` before it sees an edit; without this read a
    write planned meanwhile would put our lower medal over one a recruiter just set. More than
    `REFRESH_BY_ID_MAX` contacts (a backfill, a rule change) are not read by Id, 200 a call: when the
    contacts source read up to now - lag in this cycle, only later changes (and its lookback) are read.
    """
    fields = mapping_of(settings).contact
    select = ", ".join(dict.fromkeys(["Id", "SystemModstamp", *detail_fields(fields)]))
    records: list[Record] = []
    since = _contacts_read_until(client, ledger, settings, now)
    if since is not None and len(contact_ids) > REFRESH_BY_ID_MAX:
        # Every older change was read by the contacts source of this cycle (up to now - lag, its
        # lookback covering late commits): one windowed read instead of a query per 200 ids.
        wanted = set(contact_ids)
        soql = format_soql(
            "SELECT {:literal} FROM {:literal} WHERE SystemModstamp >= {}", select, fields.object, since
        )
        bulk_above = client.settings.bulk_query_threshold
        pages = client.query_pages(soql, include_deleted=False, bulk_above=bulk_above)
        records = [r for page in pages for r in page if str(r["Id"]) in wanted]
    else:
        for chunk in in_lists(list(contact_ids)):
            soql = format_soql(
                "SELECT {:literal} FROM {:literal} WHERE Id IN {}", select, fields.object, list(chunk)
            )
            records += [r for page in client.query_pages(soql, include_deleted=False) for r in page]
    batch = Batch()
    batch.shown = [shown_of(r, fields, batch) for r in records]
    with ledger.transaction():
        return _record_shown(ledger, _not_older_than_written(ledger, fields.object, records, batch), now)


def _contacts_read_until(
    client: OrgPort, ledger: Ledger, settings: Settings, now: datetime
) -> datetime | None:
    """Where a refresh must start reading when this cycle's contacts source read up to now - lag
    (`now - lag - lookback`), else None (no contacts source, or it did not run this cycle)."""
    sf = client.settings
    read_until = now - timedelta(seconds=sf.lag_seconds)
    for source in settings.org_sources():
        stored = ledger.cursor(f"sf:{source.name}") if is_contacts(source, settings) else None
        if stored and parse_time(stored) >= read_until.replace(microsecond=0):
            return read_until - timedelta(seconds=sf.lookback_seconds)
    return None


def _history(
    client: OrgPort, source: OrgSource, start: datetime, end: datetime, changed: Sequence[Record]
) -> Batch:
    history = source.history
    assert history is not None  # the caller checked
    soql = format_soql(
        "SELECT {:literal} FROM {:literal} WHERE Field = {}"
        " AND CreatedDate >= {} AND CreatedDate < {} ORDER BY CreatedDate, Id",
        ", ".join(HISTORY_FIELDS), history_object(source), history.field, start, end,
    )  # fmt: skip
    rows = [row for page in client.query_pages(soql, include_deleted=False) for row in page]
    parent_ids = sorted({str(r["ParentId"]) for r in rows})
    fields = ", ".join(
        dict.fromkeys(["Id", source.contact, *(source.events[0].attrs.values() if source.events else ())])
    )
    parents: dict[str, Any] = {}
    for chunk in in_lists(parent_ids):
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


def refresh_job_numbers(client: OrgPort, ledger: Ledger, settings: Settings, now: datetime) -> int:
    """Read vacancies changed since the last look and remember number -> id; return how many were read."""
    jobs = mapping_of(settings).job
    name = "sf:job_numbers"
    lookback, lag = (
        timedelta(seconds=client.settings.lookback_seconds),
        timedelta(seconds=client.settings.lag_seconds),
    )
    window = plan_window(_cursor(ledger, name, now), now, lookback=lookback, lag=lag)
    records = list(read_window(client, Source(jobs.object, (jobs.number,)), window))
    pairs = [
        (str(r[jobs.number]), str(r["Id"])) for r in records if r.get(jobs.number) and not r.get("IsDeleted")
    ]
    save_job_numbers(ledger, pairs, (name, format_time(window.end)), now)
    return len(records)
