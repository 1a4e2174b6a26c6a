"""Rows for the org: one per visit, one per contact and vacancy, with stable external ids."""

from __future__ import annotations

from datetime import timedelta

from connector.config.salesforce import JobViewFields, WebsiteVisitFields
from connector.events import WEB_JOB_VIEW, WEB_VISIT, make_event
from connector.pixel.records import job_view_rows, visit_rows
from tests.pixel.helpers import JOB, T0

VISIT = WebsiteVisitFields()
VIEW = JobViewFields()


def view(contact: str, minutes: int, visit: str, views: int = 1, job: str = JOB):  # type: ignore[no-untyped-def]
    at = T0 + timedelta(minutes=minutes)
    last = (at + timedelta(minutes=views - 1)).isoformat().replace("+00:00", "Z")
    attrs = {"job_id": job, "url": f"/vacatures/{job}", "visit_id": visit, "views": views, "last_at": last}
    return make_event(contact, WEB_JOB_VIEW, at, attrs)


def test_one_visit_row_per_visit_with_the_configured_field_names() -> None:
    visit = make_event(
        "003A",
        WEB_VISIT,
        T0,
        {"visit_id": "v1", "pages": 3, "landing_url": "https://x.nl/" + "a" * 300, "duration": 75},
    )
    (row,) = visit_rows([visit, view("003A", 0, "v1")], VISIT)
    assert row[VISIT.contact] == "003A"
    assert row[VISIT.visited_at] == "2026-03-02T09:00:00Z"
    assert (row[VISIT.pages], row[VISIT.duration_seconds]) == (3, 75)
    assert len(row[VISIT.landing_url]) == 255
    assert row[VISIT.external_id] == visit_rows([visit], VISIT)[0][VISIT.external_id]


def test_job_views_aggregate_per_contact_and_vacancy() -> None:
    events = [
        view("003A", 0, "v1", views=2),
        view("003A", 600, "v2"),
        view("003B", 5, "v3"),
        view("003A", 9, "v9", job="a0BOTHER00000001"),
    ]
    rows = {(r[VIEW.contact], r[VIEW.job]): r for r in job_view_rows(events, VIEW)}
    mine = rows[("003A", JOB)]
    assert (mine[VIEW.first_viewed], mine[VIEW.last_viewed], mine[VIEW.view_count]) == (
        "2026-03-02T09:00:00Z", "2026-03-02T19:00:00Z", 3,
    )  # fmt: skip
    assert len(rows) == 3
    assert len({r[VIEW.external_id] for r in rows.values()}) == 3
    # Same events in another order: the same rows, so an upsert changes nothing.
    assert job_view_rows(list(reversed(events)), VIEW) == job_view_rows(events, VIEW)
