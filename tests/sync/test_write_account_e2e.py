"""Issue 10.5 over HTTPS against the emulator: a cycle the org stops part-way loses no write.

Five consenting candidates each visit a vacancy page: a cycle plans 25 writes (5 contact updates,
10 score lines, 5 website visits, 5 job views); the children go first and the contact updates last, so
a score is never written beside lines that did not arrive; one collections call per object.
Whatever stops the writer — 503s past the retry policy, the org's daily limit, the cycle's budget —
the writes it did not get to wait in the ledger, `status` counts them, and a later cycle sends them.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from connector import paths
from connector.entry.cli import main
from connector.sf.client import DEFAULT_RETRY
from connector.shell.cycle import CycleReport
from connector.shell.pixel import ingest_files
from connector.shell.status import status_facts
from tests.pixel.helpers import T0, hit, settings, token, write_hits

from .conftest import Org

FANS = 5
WAITING = (
    "waiting to be written: contact fields and score lines",
    "waiting to be written: contacts with visits or job views",
)


def visited(org: Org, folder: Path) -> tuple[list[str], str]:
    """Consenting candidates (read into the ledger by one cycle) whose vacancy visits are ingested."""
    job = org.job()
    fans = [org.candidate(f"Fan{i}") for i in range(FANS)]
    org.cycle()
    hits = [
        hit(i, url=f"https://agency.nl/vacatures/{job}?mt={token(fan)}", visitor=f"v-{i}")
        for i, fan in enumerate(fans)
    ]
    ingest_files(org.ledger, settings(), [write_hits(folder / "hits.ndjson", hits)], T0 + timedelta(hours=2))
    return fans, job


def waiting(org: Org) -> tuple[object, ...]:
    """The two 'waiting to be written' counts `msr-engage status` shows."""
    rows = dict(status_facts(org.ledger)["Ledger"])
    return tuple(rows[name] for name in WAITING)


def printed_status(org: Org, capsys: pytest.CaptureFixture[str]) -> str:
    """What `msr-engage status` prints for a copy of the org's ledger in the state folder."""
    target = paths.ledger_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(target)) as copy:
        org.ledger.db.conn.backup(copy)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(["status"])
    assert exited.value.code in (0, None)
    return capsys.readouterr().out


def in_the_org(org: Org, fans: list[str]) -> dict[str, object]:
    """Every detail, score line, visit and job view of the fans, as the org shows them."""
    em = org.em.org
    return {
        "scores": [org.contact(fan)["Lead_Score__c"] for fan in fans],
        "lines": sorted(
            (r["Contact__c"], r["Rule__c"], int(r["Points__c"])) for r in em.records("Lead_Score_Line__c")
        ),
        "visits": sorted(r["Contact__c"] for r in em.records("Website_Visit__c")),
        "views": sorted((r["Contact__c"], r["Job__c"]) for r in em.records("Website_Job_View__c")),
    }


def everything(fans: list[str], job: str) -> dict[str, object]:
    """What the org shows once every planned write arrived."""
    return {
        "scores": [5.0] * len(fans),  # website_visit 2 + vacancy_view 3
        "lines": sorted((fan, rule, points) for fan in fans for rule, points in (("website_visit", 2),
                                                                                 ("vacancy_view", 3))),
        "visits": sorted(fans),
        "views": sorted((fan, job) for fan in fans),
    }  # fmt: skip


def accounted(report: CycleReport) -> int:
    """Writes of a cycle with an outcome: each planned write must have exactly one."""
    return report.succeeded + report.dead + report.retriable + report.not_sent


def burst_of_503s(org: Org) -> None:
    """Enough 503s on the first upsert (the score lines) to outlast the retry policy: nothing is sent."""
    org.em.org.fail_next(DEFAULT_RETRY.attempts, status=503, endpoint="collections_upsert")


def request_limit(org: Org) -> None:
    """The org's daily limit, used up by someone else before our first upsert: nothing is sent."""
    org.em.org.fail_next(1, status=403, endpoint="collections_upsert")


def budget(org: Org) -> None:
    """The org at 72 of 100 calls: 5 reads (e-mail replies are a source of their own) and the step
    history's window (whether the step keeps history was asked by the first poll, and is reused), the
    read of the contacts about to be written and the score lines' upsert reach the 80 % budget rail."""
    assert len(org.settings.org_sources()) == 5
    org.em.org.set_api_limit(100, used=72)


@pytest.mark.parametrize(
    ("stop", "reason", "sent"),
    [
        (burst_of_503s, "SERVER_UNAVAILABLE", 0),
        (request_limit, "REQUEST_LIMIT_EXCEEDED", 0),
        (budget, "80%", 10),
    ],
)
def test_writes_a_stopped_cycle_did_not_send_reach_the_org_in_a_later_cycle(
    org: Org,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    stop: Callable[[Org], None],
    reason: str,
    sent: int,
) -> None:
    fans, job = visited(org, tmp_path)
    assert waiting(org) == (0, FANS)  # the visits wait from their ingest on, before any score

    stop(org)
    stopped = org.cycle(after_seconds=3600)
    assert stopped.status == "stopped"
    assert reason in stopped.reason
    assert (stopped.writes, stopped.web_writes) == (25, 10)
    assert (stopped.succeeded, stopped.not_sent, accounted(stopped)) == (sent, 25 - sent, 25)
    lines = everything(fans, job)["lines"] if sent else []
    assert in_the_org(org, fans) == {"scores": [None] * FANS, "lines": lines, "visits": [], "views": []}
    fields_and_lines = 3 * FANS - sent  # a contact update and two score lines per fan, less what was sent
    assert waiting(org) == (fields_and_lines, FANS)  # and each fan's visit and job view
    assert dict(status_facts(org.ledger)["Last cycle"])["not sent"] == 25 - sent
    printed = printed_status(org, capsys)
    waits = rf"waiting to be written: contact fields and score lines\W+{fields_and_lines}\b"
    assert re.search(waits, printed), printed
    assert re.search(rf"not sent\W+{25 - sent}\b", printed), printed

    if stop is request_limit:  # the breaker keeps cycles from calling the org until its cooldown ends
        paused = org.cycle()
        assert (paused.status, paused.writes) == ("stopped", 0)
        assert waiting(org) == (fields_and_lines, FANS)
        org.em.org.advance(org.client.settings.breaker_cooldown_seconds)
    if stop is budget:  # a new day at the org
        org.em.org.set_api_limit(100_000, used=0)

    later = org.cycle()
    assert (later.status, later.writes, later.succeeded, later.not_sent) == ("ok", 25 - sent, 25 - sent, 0)
    assert in_the_org(org, fans) == everything(fans, job)
    assert waiting(org) == (0, 0)
    org.em.org.reset_calls()
    assert org.cycle().writes == 0
    assert org.write_calls() == 0, org.em.org.call_counts()


def test_a_503_burst_on_the_contact_updates_holds_back_only_the_totals(org: Org, tmp_path: Path) -> None:
    fans, job = visited(org, tmp_path)
    org.em.org.fail_next(DEFAULT_RETRY.attempts, status=503, endpoint="collections_update")
    stopped = org.cycle(after_seconds=3600)
    assert (stopped.status, stopped.succeeded, stopped.not_sent) == ("stopped", 20, 5)
    assert waiting(org) == (FANS, 0)  # the children arrived; the contact fields wait
    assert org.cycle().succeeded == FANS
    assert in_the_org(org, fans) == everything(fans, job)
    assert waiting(org) == (0, 0)


def test_a_refused_job_view_waits_behind_its_dead_letter_and_goes_out_after_retry(
    org: Org, tmp_path: Path
) -> None:
    from connector.ledger.sync_state import clear_dead_letters, dead_letters
    from connector.pixel.records import job_view_external_id

    fans, job = visited(org, tmp_path)
    frozen = org.em.org.create(
        "Website_Job_View__c",
        {"External_Id__c": job_view_external_id(fans[0], job), "Contact__c": fans[0], "Job__c": job},
    )
    org.em.org.faults.reject_records({frozen}, "job views of this candidate are frozen")
    first = org.cycle(after_seconds=3600)
    assert (first.succeeded, first.dead, accounted(first)) == (24, 1, 25)
    assert [(d.contact_id, d.object) for d in dead_letters(org.ledger)] == [(fans[0], "Website_Job_View__c")]
    assert waiting(org) == (0, 0)  # what waits behind a dead letter is counted as a dead letter
    assert org.cycle().writes == 0  # the dead letter holds the contact back

    org.em.org.faults.clear()
    clear_dead_letters(org.ledger)
    again = org.cycle()
    assert (again.web_writes, again.succeeded) == (1, 1)
    assert org.em.org.record("Website_Job_View__c", frozen)["View_Count__c"] == 1  # type: ignore[index]
    assert waiting(org) == (0, 0)


def test_a_refused_score_line_keeps_the_total_at_what_the_lines_in_the_org_add_up_to(
    org: Org, tmp_path: Path
) -> None:
    from connector.ledger.sync_state import clear_dead_letters

    fans, _ = visited(org, tmp_path)
    frozen = org.em.org.create(
        "Lead_Score_Line__c", {"External_Id__c": f"{fans[0]}:vacancy_view", "Contact__c": fans[0]}
    )
    org.em.org.faults.reject_records({frozen}, "score lines of this candidate are frozen")
    first = org.cycle(after_seconds=3600)
    assert (first.succeeded, first.dead) == (24, 1)

    def org_sums() -> dict[str, tuple[object, int]]:
        points: dict[str, int] = dict.fromkeys(fans, 0)
        for line in org.em.org.records("Lead_Score_Line__c"):
            points[str(line["Contact__c"])] += int(line.get("Points__c") or 0)  # type: ignore[call-overload]
        return {fan: (org.contact(fan)["Lead_Score__c"], points[fan]) for fan in fans}

    assert org_sums()[fans[0]] == (2.0, 2)  # the visit's line arrived, the job view's did not
    assert all(score == total for score, total in org_sums().values())
    assert org.contact(fans[0])["Lead_Score_Band__c"] == "Cold"

    org.em.org.faults.clear()
    clear_dead_letters(org.ledger)
    org.cycle()
    assert org_sums()[fans[0]] == (5.0, 5)
