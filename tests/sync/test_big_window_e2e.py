"""A poll window the REST query would page through beyond `bulk_query_threshold` rows is read by
one Bulk 2.0 query job instead, with the same events as the REST pages give."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from connector.details import Medal
from connector.ledger.sync_state import shown_details
from connector.shell.gather import refresh_shown

from .conftest import T0, Org

APPS = "msf__Job_Application__c"
ROWS = 2_500  # more than one 2,000-row REST page


def history(org: Org) -> list[str]:
    """Fifty candidates with 2,500 applications over the last 100 days."""
    job = org.job()
    fans = [org.candidate(f"Fan{i}") for i in range(50)]
    for i in range(ROWS):
        values = {"msf__Candidate__c": fans[i % 50], "msf__Job__c": job, "msf__Step__c": "Intake verwerkt"}
        org.em.org.store.create(APPS, values, at=T0 - timedelta(minutes=57 * i + 1))
    return fans


def test_a_window_above_the_threshold_is_one_bulk_query_with_the_same_events(
    make_org: Callable[..., Org],
) -> None:
    bulk, rest = make_org(), make_org()
    sf = bulk.client.settings.model_copy(update={"bulk_query_threshold": 2_100})
    bulk.client.settings = sf
    bulk.settings = bulk.settings.model_copy(update={"salesforce": sf})
    fans = [history(o) for o in (bulk, rest)]
    bulk.em.org.reset_calls()
    reports = [bulk.cycle(), rest.cycle()]
    calls = bulk.em.org.call_counts()
    # The applications window is over the threshold: its first REST page tells, then one job.
    assert (calls["bulk_query_create"], calls["bulk_query_results"]) == (1, 1)
    assert "bulk_query_create" not in rest.em.org.call_counts()
    assert reports[0].fetched["applications"] == reports[1].fetched["applications"] == ROWS
    assert reports[0].events_added == reports[1].events_added >= ROWS
    assert bulk.ledger.cursor("sf:applications") == rest.ledger.cursor("sf:applications")
    scores = [[o.contact(f)["Lead_Score__c"] for f in ids] for o, ids in zip((bulk, rest), fans, strict=True)]
    assert scores[0] == scores[1]
    again = bulk.cycle()  # read again in the lookback (now over the REST path): no new events
    assert again.events_added == 0


def test_a_refresh_of_many_contacts_reads_the_recent_changes_not_200_ids_a_call(org: Org) -> None:
    rt = org.em.org.record_types["Candidate"]
    day_ago = T0 - timedelta(days=1)  # long before the refresh's lookback
    ids = [org.em.org.store.create("Contact", {"LastName": f"C{i}", "RecordTypeId": rt}, at=day_ago)
           for i in range(2_050)]  # fmt: skip
    org.cycle()  # the contacts source reads them all (up to now - lag)
    now = org.em.org.clock.now()  # the same cycle's now (the org clock stands still)
    org.em.org.update("Contact", ids[7], {"Medal__c": "Gold"})  # a recruiter, inside the read lag
    org.em.org.reset_calls()
    refresh_shown(org.client, org.ledger, org.settings, ids, now)
    assert sum(org.em.org.call_counts().values()) == 1  # not 11 calls of 200 ids
    shown = shown_details(org.ledger, [ids[7], ids[8]])
    assert (shown[ids[7]].details.medal, shown[ids[8]].details.medal) == (Medal.GOLD, None)


def test_a_bulk_query_slower_than_the_deadline_is_aborted_and_its_window_read_in_halves(
    make_org: Callable[..., Org],
) -> None:
    """Every Bulk job takes 15 min of org time and the connector waits 30 s: the job is aborted, not
    left running, and the two halves (under the threshold) are read by REST in the same cycle."""
    org, rest = make_org(), make_org()
    sf = org.client.settings.model_copy(update={"bulk_query_threshold": 2_100, "bulk_deadline_seconds": 30})
    org.client.settings = sf
    org.settings = org.settings.model_copy(update={"salesforce": sf})
    org.em.org.set_bulk_processing(900)
    waits: list[float] = []
    org.client._sleep = waits.append  # the pauses between polls are counted; no org time passes
    history(org)
    history(rest)
    org.em.org.reset_calls()
    report = org.cycle()
    calls = org.em.org.call_counts()
    assert report.status == "ok", report.failures
    jobs = list(org.em.org.query_jobs.values())
    # The first window (400 days back) holds all 2,500 rows in its later half: halves of halves are
    # tried as jobs while still above the threshold, each aborted at the deadline, then read by REST.
    assert [job["state"] for job in jobs] == ["Aborted"] * len(jobs)
    assert calls["bulk_query_create"] == calls["bulk_query_set_state"] == len(jobs) == 3
    starts = [job["_query"].split("SystemModstamp >= ")[1][:25] for job in jobs]
    assert starts == sorted(starts)  # each a narrower window ending at the same time
    assert sum(waits) == 30 * len(jobs)  # the deadline, per job, no more
    assert report.fetched["applications"] == rest.cycle().fetched["applications"] == ROWS
    assert org.ledger.cursor("sf:applications") is not None
