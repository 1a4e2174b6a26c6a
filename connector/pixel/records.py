"""The org's view of visits: plain rows for the website-visit and website-job-view objects.

Pure: from a contact's `web.visit` / `web.job_view` events to rows keyed by the configured field
names, with deterministic external ids, so upserting the same events again changes nothing. The
sync (another issue) decides when to write them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from connector.config.salesforce import JobViewFields, WebsiteVisitFields
from connector.events import WEB_JOB_VIEW, WEB_VISIT, Event, derive_id, format_time, parse_time

MAX_URL_FIELD = 255  # Landing URL is a 255-character URL field in the org


def visit_external_id(contact_id: str, visit_id: str) -> str:
    """The external id of one visit record."""
    return derive_id("website_visit", contact_id, visit_id)


def job_view_external_id(contact_id: str, job_id: str) -> str:
    """The external id of the one job-view record per contact and vacancy."""
    return derive_id("website_job_view", contact_id, job_id)


def visit_rows(events: Iterable[Event], fields: WebsiteVisitFields) -> list[dict[str, Any]]:
    """One row per `web.visit` event, sorted by external id."""
    rows = []
    for event in events:
        if event.kind != WEB_VISIT:
            continue
        visit_id = str(event.attrs.get("visit_id") or event.id)
        rows.append(
            {
                fields.external_id: visit_external_id(event.contact_id, visit_id),
                fields.contact: event.contact_id,
                fields.visited_at: format_time(event.at),
                fields.pages: int(event.attrs.get("pages", 1)),
                fields.landing_url: str(event.attrs.get("landing_url", ""))[:MAX_URL_FIELD],
                fields.duration_seconds: int(event.attrs.get("duration", 0)),
            }
        )
    return sorted(rows, key=lambda row: str(row[fields.external_id]))


def job_view_rows(events: Iterable[Event], fields: JobViewFields) -> list[dict[str, Any]]:
    """One row per contact and vacancy: first viewed, last viewed and the number of views."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        job_id = event.attrs.get("job_id") if event.kind == WEB_JOB_VIEW else None
        if not job_id:
            continue
        last = _last_seen(event)
        views = event.attrs.get("views", 1)
        count = views if isinstance(views, int) and views > 0 else 1
        key = (event.contact_id, str(job_id))
        agg = seen.get(key)
        if agg is None:
            seen[key] = {"first": event.at, "last": last, "count": count}
        else:
            agg["first"] = min(agg["first"], event.at)
            agg["last"] = max(agg["last"], last)
            agg["count"] += count
    return [
        {
            fields.external_id: job_view_external_id(contact_id, job_id),
            fields.contact: contact_id,
            fields.job: job_id,
            fields.first_viewed: format_time(agg["first"]),
            fields.last_viewed: format_time(agg["last"]),
            fields.view_count: agg["count"],
        }
        for (contact_id, job_id), agg in sorted(seen.items())
    ]


def _last_seen(event: Event) -> Any:
    try:
        return max(event.at, parse_time(event.attrs.get("last_at")))
    except ValueError:
        return event.at
