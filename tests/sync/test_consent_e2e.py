"""Issue 11's consent withdrawal, end to end over HTTPS: the web data goes, in the cycle that sees it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import count
from pathlib import Path

from connector.events import CONTACT_UPDATED, Event, make_event
from connector.ledger.consent import consent_history
from connector.shell.consent import ingest_events
from connector.shell.pixel import ingest_files
from connector.shell.service import CycleService
from tests.pixel.helpers import T0, hit, settings, token, write_hits

from .conftest import Org
from .crashes import cycle_killed_at

WEB = ("Website_Visit__c", "Website_Job_View__c")


def live_web_records(org: Org, contact_id: str) -> list[str]:
    """The visit and job-view records the org holds (not deleted) of a contact."""
    return [
        f"{obj}:{r['Id']}" for obj in WEB for r in org.em.org.records(obj) if r["Contact__c"] == contact_id
    ]


def ledger_rows(org: Org, contact_id: str) -> dict[str, int]:
    """What the ledger keeps of the contact's website behaviour, by table."""
    db = org.ledger.db
    return {
        "web_events": db.execute(
            "SELECT count(*) FROM events WHERE contact_id = ? AND kind LIKE 'web.%'", [contact_id]
        ).fetchone()[0],
        "pending_hits": db.execute(
            "SELECT count(*) FROM pixel_pending WHERE contact_id = ?", [contact_id]
        ).fetchone()[0],
        "visitor_links": db.execute(
            "SELECT count(*) FROM pixel_visitors WHERE contact_id = ?", [contact_id]
        ).fetchone()[0],
    }


def _tracked_fan(org: Org, tmp_path: Path) -> str:
    """A consented candidate at intake with one visit (and job view) in the org and one visit still open."""
    fan, job = org.candidate("Fan"), org.job()
    org.em.org.apply(fan, job, "Intake verwerkt")
    org.cycle()
    log = write_hits(tmp_path / "hits.ndjson", [
        hit(1, url=f"https://agency.nl/vacatures/{job}?mt={token(fan)}", visitor="v-fan"),
        hit(3, url="https://agency.nl/", visitor="v-fan"),
        hit(100, url="https://agency.nl/contact", visitor="v-fan"),
    ])  # fmt: skip
    ingest_files(org.ledger, settings(), [log], T0 + timedelta(minutes=105))
    org.cycle(after_seconds=3600)
    assert org.contact(fan)["Lead_Score__c"] == 35  # intake 30 + website_visit 2 + vacancy_view 3
    assert len(live_web_records(org, fan)) == 2
    assert ledger_rows(org, fan) == {"web_events": 2, "pending_hits": 1, "visitor_links": 1}
    return fan


def test_withdrawn_consent_takes_the_web_data_away_in_the_same_cycle(org: Org, tmp_path: Path) -> None:
    fan = _tracked_fan(org, tmp_path)
    org.em.org.update("Contact", fan, {"Tracking_Consent__c": False})
    report = org.cycle()
    assert (report.withdrawn, report.org_deleted) == (1, 2)
    assert ledger_rows(org, fan) == {"web_events": 0, "pending_hits": 0, "visitor_links": 0}
    assert org.contact(fan)["Lead_Score__c"] == 30  # exactly its web lines less
    lines = {r["Rule__c"]: int(r["Points__c"]) for r in org.em.org.records("Lead_Score_Line__c")}
    assert lines == {"intake": 30, "website_visit": 0, "vacancy_view": 0}
    assert live_web_records(org, fan) == []
    assert [answer for answer, _, source in consent_history(org.ledger, fan)] == [True, False]
    assert {source for _, _, source in consent_history(org.ledger, fan)} == {"contacts"}


def test_a_hit_after_the_withdrawal_writes_nothing(org: Org, tmp_path: Path) -> None:
    fan = _tracked_fan(org, tmp_path)
    org.em.org.update("Contact", fan, {"Tracking_Consent__c": False})
    org.cycle()
    later = write_hits(tmp_path / "later.ndjson", [
        hit(300, url=f"https://agency.nl/?mt={token(fan)}", visitor="v-fan"),
    ])  # fmt: skip
    ingest_files(org.ledger, settings(), [later], T0 + timedelta(hours=8))
    org.em.org.reset_calls()
    again = org.cycle()
    assert (again.withdrawn, again.org_deleted, again.writes, again.events_added) == (0, 0, 0, 0)
    assert org.write_calls() == 0, org.em.org.call_counts()
    assert ledger_rows(org, fan) == {"web_events": 0, "pending_hits": 0, "visitor_links": 0}
    assert live_web_records(org, fan) == []


def test_a_withdrawal_and_new_hits_in_one_cycle_create_no_visit(org: Org, tmp_path: Path) -> None:
    fan = org.candidate("Fan")
    org.cycle()
    folder = tmp_path / "pixel"
    folder.mkdir()
    write_hits(folder / "hits.ndjson", [hit(1, url=f"https://agency.nl/?mt={token(fan)}", visitor="v")])
    service = CycleService(org.settings.model_copy(update={"pixel": settings(folder=folder)}),
                           lambda: org.ledger, org.client)  # fmt: skip
    org.em.org.update("Contact", fan, {"Tracking_Consent__c": False})
    report = org.cycle(after_seconds=3600, other_sources=service.other_sources())
    assert report.withdrawn == 1
    assert report.web_writes == 0
    assert live_web_records(org, fan) == []


def test_web_records_the_ledger_lost_track_of_are_deleted_too(org: Org, tmp_path: Path) -> None:
    fan = _tracked_fan(org, tmp_path)
    # A visit written by a killed cycle that never confirmed it: the ledger does not know it is there.
    org.em.org.create("Website_Visit__c", {"Contact__c": fan, "External_Id__c": f"{fan}:lost"})
    org.em.org.update("Contact", fan, {"Tracking_Consent__c": False})
    assert org.cycle().org_deleted == 3
    assert live_web_records(org, fan) == []


def test_a_kill_in_the_withdrawing_cycle_then_a_normal_cycle_reaches_the_same_end(
    make_org: Callable[..., Org], tmp_path: Path
) -> None:
    for crash_at in count():  # every commit of the cycle, and one run past the last
        run = tmp_path / f"kill-{crash_at}"
        run.mkdir()
        org = make_org()
        fan = _tracked_fan(org, run)
        org.em.org.update("Contact", fan, {"Tracking_Consent__c": False})
        died = cycle_killed_at(org, crash_at)
        org.cycle()
        where = f"killed before commit {crash_at + 1}"
        assert ledger_rows(org, fan) == {"web_events": 0, "pending_hits": 0, "visitor_links": 0}, where
        assert live_web_records(org, fan) == [], where
        assert org.contact(fan)["Lead_Score__c"] == 30, where
        assert org.cycle().writes == 0, where
        if not died:
            break


def test_no_visit_is_written_for_a_contact_whose_consent_is_not_yes(org: Org) -> None:
    refuser, undecided = org.candidate("Refuser", consent=False), org.candidate("Undecided")
    org.cycle()
    org.em.org.update("Contact", undecided, {"Tracking_Consent__c": False})
    # `ingest` takes web events as given (the pixel would have dropped them): the writer still refuses.
    org.ledger.append([
        make_event(cid, "web.visit", T0, {"pages": 2, "landing_url": "https://agency.nl/"})
        for cid in (refuser, undecided)
    ])  # fmt: skip
    report = org.cycle()
    assert report.web_writes == 0
    assert live_web_records(org, refuser) == live_web_records(org, undecided) == []
    assert org.cycle().web_writes == 0  # their pending marks were cleared, nothing left waiting


def _answer(contact_id: str, consent: bool, at: datetime) -> Event:
    return make_event(contact_id, CONTACT_UPDATED, at, {"tracking_consent": consent})


def test_a_withdrawal_through_ingest_is_evidence_and_withdraws_as_one_from_the_org(
    org: Org, tmp_path: Path
) -> None:
    fan = _tracked_fan(org, tmp_path)
    now = org.em.org.clock.now()
    result, withdrawn = ingest_events(org.ledger, [_answer(fan, False, now - timedelta(minutes=5))], now)
    assert (result.added, withdrawn) == (1, [fan])
    # At once, in the ledger: web events, pending hits and visitor links are gone, the fan re-scored next.
    assert ledger_rows(org, fan) == {"web_events": 0, "pending_hits": 0, "visitor_links": 0}
    assert [(answer, source) for answer, _, source in consent_history(org.ledger, fan)] == [
        (True, "contacts"), (False, "ingest")
    ]  # fmt: skip
    report = org.cycle()
    assert (report.withdrawn, report.org_deleted) == (0, 2)  # withdrawn at ingest, cleared in the org now
    assert org.contact(fan)["Lead_Score__c"] == 30
    assert live_web_records(org, fan) == []
    assert org.cycle().writes == 0


def test_every_answer_in_an_ingested_file_is_kept_in_order(org: Org) -> None:
    fan = org.candidate("Fan")
    org.cycle()
    now = org.em.org.clock.now()
    answers = [_answer(fan, yes, now + timedelta(minutes=i)) for i, yes in enumerate((False, True, False))]
    _, withdrawn = ingest_events(org.ledger, answers, now)
    assert withdrawn == [fan]
    assert [answer for answer, _, _ in consent_history(org.ledger, fan)] == [True, False, True, False]
