"""Website visits and job views reach the org as child records, once, for consented contacts only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from connector.shell.pixel import ingest_files
from connector.shell.service import CycleService
from tests.pixel.helpers import T0, hit, settings, token, write_hits

from .conftest import Org


def test_consented_visits_and_job_views_are_upserted_once(org: Org, tmp_path: Path) -> None:
    folder = tmp_path
    job = org.job()
    fan, refuser = org.candidate("Fan", consent=True), org.candidate("Refuser", consent=False)
    org.cycle()  # the contacts source brings tracking consent into the ledger
    log = write_hits(folder / "hits.ndjson", [
        hit(1, url=f"https://agency.nl/vacatures/{job}?mt={token(fan)}", visitor="v-fan"),
        hit(3, url=f"https://agency.nl/vacatures/{job}", visitor="v-fan"),
        hit(2, url=f"https://agency.nl/?mt={token(refuser)}", visitor="v-ref"),
    ])  # fmt: skip
    report = ingest_files(org.ledger, settings(), [log], T0 + timedelta(hours=2))
    assert report.counts.rejected.get("no_consent") == 1
    result = org.cycle(after_seconds=3600)
    assert result.web_writes == 2
    (visit,) = org.em.org.records("Website_Visit__c")
    assert (visit["Contact__c"], int(visit["Pages__c"])) == (fan, 2)
    (view,) = org.em.org.records("Website_Job_View__c")
    # Both of the fan's page views were of this vacancy (the second one credited through the visitor id).
    assert (view["Contact__c"], view["Job__c"], int(view["View_Count__c"])) == (fan, job, 2)
    assert org.contact(fan)["Lead_Score__c"] == 5  # website_visit 2 + vacancy_view 3

    # The same log again (and a cycle after it) changes nothing in the org.
    ingest_files(org.ledger, settings(), [log], T0 + timedelta(hours=3))
    org.em.org.reset_calls()
    again = org.cycle()
    assert (again.events_added, again.web_writes) == (0, 0)
    assert org.write_calls() == 0, org.em.org.call_counts()
    assert len(org.em.org.records("Website_Visit__c")) == 1


def test_the_cycles_pixel_step_credits_hits_once_consent_is_read(org: Org, tmp_path: Path) -> None:
    fan = org.candidate("Fan", consent=True)
    folder = tmp_path / "pixel"
    folder.mkdir()
    write_hits(
        folder / "hits-2026-03-02.ndjson", [hit(1, url=f"https://agency.nl/?mt={token(fan)}", visitor="v")]
    )
    pixel = settings(folder=folder)
    service = CycleService(org.settings.model_copy(update={"pixel": pixel}), lambda: org.ledger, org.client)

    # One cycle: the org's contacts (and consent) are read first, then the hits, then all is written.
    report = org.cycle(after_seconds=3600, other_sources=service.other_sources())
    assert report.fetched["pixel files"] == 1
    assert report.web_writes == 1
    assert [v["Contact__c"] for v in org.em.org.records("Website_Visit__c")] == [fan]
    again = org.cycle(other_sources=service.other_sources())
    assert (again.fetched["pixel files"], again.web_writes) == (0, 0)


def test_vacancy_numbers_in_urls_are_looked_up_in_the_org(org: Org, tmp_path: Path) -> None:
    job = org.em.org.create("msf__Job__c", {"Name": "V-1042"})  # the number the website shows
    fan = org.candidate("Fan", consent=True)
    folder = tmp_path / "pixel"
    folder.mkdir()
    write_hits(
        folder / "hits.ndjson",
        [hit(1, url=f"https://agency.nl/vacature/V-1042?mt={token(fan)}", visitor="v")],
    )
    pixel = settings(folder=folder, vacancy_patterns=(r"/vacatures?/(?P<job_number>V-\d+)",))
    org.settings = org.settings.model_copy(update={"pixel": pixel})
    service = CycleService(org.settings, lambda: org.ledger, org.client)
    report = org.cycle(after_seconds=3600, other_sources=service.other_sources())
    assert report.fetched["job numbers"] == 1
    (view,) = org.em.org.records("Website_Job_View__c")
    assert (view["Contact__c"], view["Job__c"]) == (fan, job)
