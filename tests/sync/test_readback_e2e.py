"""Read-back over HTTPS against the emulator: what the org holds is the diff base, but an older read
(commit lag) never undoes what the org accepted from us."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from connector.config import Settings, load_settings
from connector.ledger.sync_state import shown_details
from connector.shell.pixel import ingest_files
from tests.pixel.helpers import T0, hit, token, write_hits
from tests.pixel.helpers import settings as pixel_settings

from .conftest import EXAMPLE, Org


def parse_settings(text: str, folder: Path) -> Settings:
    """Settings from config text (the example config with a rule changed)."""
    path = folder / "config.toml"
    path.write_text(text)
    return load_settings(path)


def contact_writes(org: Org) -> int:
    """Contact updates the org received since the last reset (one collections call each here)."""
    return org.em.org.call_counts().get("collections_update", 0)


def test_a_contact_written_under_commit_lag_is_not_sent_again(org: Org) -> None:
    candidate, job = org.candidate(), org.job()
    org.em.org.apply(candidate, job, "Intake verwerkt")
    # Changes show in queries 5 minutes late: within lag + lookback (60 + 600 s), so our own write is
    # still read once it shows; until then queries show the contact as it was before it.
    org.em.org.set_commit_lag(300)
    org.em.org.reset_calls()
    first = org.cycle()
    assert (first.planned, contact_writes(org)) == (1, 1)
    later = [org.cycle() for _ in range(6)]  # 12 minutes: through the lag and past it
    assert [r.planned for r in later] == [0] * 6
    assert contact_writes(org) == 1
    assert sum(r.oddities["older_than_our_write"] for r in later) >= 1  # the old version was seen
    assert shown_details(org.ledger, [candidate])[candidate].details.score == 30
    assert int(org.contact(candidate)["Lead_Score__c"]) == 30


def test_an_edit_made_after_our_write_still_counts_once_it_shows(org: Org) -> None:
    candidate, job = org.candidate(), org.job()
    org.em.org.apply(candidate, job, "Intake verwerkt")
    org.em.org.set_commit_lag(300)
    org.cycle()  # writes bronze
    org.em.org.advance(30)
    org.em.org.update("Contact", candidate, {"Medal__c": "Gold"})  # a recruiter, after our write
    for _ in range(6):
        org.cycle()
    assert shown_details(org.ledger, [candidate])[candidate].details.medal == "gold"
    assert org.ledger.states([candidate])[candidate].details.medal == "gold"
    assert org.contact(candidate)["Medal__c"] == "Gold"


def lines_in_org(org: Org, contact: str) -> dict[str, int]:
    """The contact's live score lines in the org: rule -> points."""
    rows = org.em.org.records("Lead_Score_Line__c")
    return {str(r["Rule__c"]): int(r["Points__c"]) for r in rows if r["Contact__c"] == contact}


def scored_candidate(org: Org, step: str = "Intake verwerkt") -> str:
    """A candidate whose details and score lines the connector has written."""
    candidate, job = org.candidate(), org.job()
    org.em.org.apply(candidate, job, step)
    org.cycle()
    return candidate


def line_id(org: Org, contact: str, rule: str) -> str:
    (row,) = [
        r for r in org.em.org.records("Lead_Score_Line__c") if r["External_Id__c"] == f"{contact}:{rule}"
    ]
    return str(row["Id"])


def test_a_score_line_changed_in_the_org_is_restored_next_cycle(org: Org) -> None:
    candidate = scored_candidate(org)
    # What a request of a killed client does when it commits after our newer write: an old value.
    org.em.org.update("Lead_Score_Line__c", line_id(org, candidate, "intake"), {"Points__c": 10})
    report = org.cycle()
    assert report.oddities["contacts_changed_in_org"] == 1
    assert lines_in_org(org, candidate) == {"intake": 30}
    assert sum(lines_in_org(org, candidate).values()) == int(org.contact(candidate)["Lead_Score__c"])
    assert org.cycle().writes == 0  # our restoring write, read back, changes nothing


def test_a_score_line_deleted_in_the_org_is_created_again(org: Org) -> None:
    candidate = scored_candidate(org)
    org.em.org.delete("Lead_Score_Line__c", line_id(org, candidate, "intake"))
    assert lines_in_org(org, candidate) == {}
    org.cycle()
    assert lines_in_org(org, candidate) == {"intake": 30}
    assert [org.cycle().writes for _ in range(2)] == [0, 0]


def test_an_older_read_of_a_score_line_never_replaces_our_newer_write(org: Org, tmp_path: Path) -> None:
    candidate = scored_candidate(org, "Aangenomen")
    org.cycle()
    org.em.org.set_commit_lag(300)  # queries keep showing the 40-point line for 5 minutes
    text = EXAMPLE.read_text().replace("points = 40", "points = 45")
    org.settings = org.settings.model_copy(update={"scoring": parse_settings(text, tmp_path).scoring})
    org.em.org.reset_calls()
    org.cycle(kind="daily")
    later = [org.cycle() for _ in range(6)]
    assert org.em.org.call_counts().get("collections_upsert") == 1  # the one new line, never again
    assert [r.planned for r in later] == [0] * 6
    assert sum(r.oddities["older_than_our_write"] for r in later) >= 1
    assert lines_in_org(org, candidate)["hired"] == 45


def test_a_line_edited_after_our_write_under_commit_lag_is_restored_once_it_shows(org: Org) -> None:
    candidate = scored_candidate(org)
    org.em.org.set_commit_lag(300)
    org.em.org.advance(30)
    org.em.org.update("Lead_Score_Line__c", line_id(org, candidate, "intake"), {"Points__c": 10})
    reports = [org.cycle() for _ in range(5)]  # the edit shows in the third cycle's window
    assert [r.oddities["contacts_changed_in_org"] for r in reports] == [0, 0, 1, 0, 0]
    assert lines_in_org(org, candidate) == {"intake": 30}


def visited_fan(org: Org, folder: Path) -> str:
    """A consented candidate with one website visit (two page views of a vacancy) written to the org."""
    job = org.job()
    fan = org.candidate("Fan", consent=True)
    org.cycle()  # tracking consent reaches the ledger
    log = write_hits(folder / "hits.ndjson", [
        hit(1, url=f"https://agency.nl/vacatures/{job}?mt={token(fan)}", visitor="v-fan"),
        hit(3, url=f"https://agency.nl/vacatures/{job}", visitor="v-fan"),
    ])  # fmt: skip
    ingest_files(org.ledger, pixel_settings(), [log], T0 + timedelta(hours=2))
    assert org.cycle(after_seconds=3600).web_writes == 2
    return fan


def shown_web(org: Org) -> list[tuple[object, ...]]:
    """The live visits and job views as (object, pages or views, landing URL or job)."""
    visits = [
        ("visit", int(v["Pages__c"]), v["Landing_Url__c"]) for v in org.em.org.records("Website_Visit__c")
    ]
    views = [
        ("view", int(v["View_Count__c"]), v["Job__c"]) for v in org.em.org.records("Website_Job_View__c")
    ]
    return visits + views


def test_a_visit_and_a_job_view_edited_in_the_org_are_restored(org: Org, tmp_path: Path) -> None:
    visited_fan(org, tmp_path)
    before = shown_web(org)
    (visit,) = org.em.org.records("Website_Visit__c")
    (view,) = org.em.org.records("Website_Job_View__c")
    org.em.org.update("Website_Visit__c", visit["Id"], {"Pages__c": 9, "Landing_Url__c": "https://x.nl/"})
    org.em.org.update("Website_Job_View__c", view["Id"], {"View_Count__c": 1})
    report = org.cycle()
    assert (report.oddities["contacts_changed_in_org"], report.web_writes) == (2, 2)  # once per object
    assert shown_web(org) == before
    assert [org.cycle().web_writes for _ in range(2)] == [0, 0]  # our restoring writes read back


def test_a_visit_deleted_in_the_org_is_created_again(org: Org, tmp_path: Path) -> None:
    fan = visited_fan(org, tmp_path)
    before = shown_web(org)
    (visit,) = org.em.org.records("Website_Visit__c")
    org.em.org.delete("Website_Visit__c", visit["Id"])
    assert org.cycle().web_writes == 1
    (again,) = org.em.org.records("Website_Visit__c")
    assert (again["Contact__c"], again["External_Id__c"]) == (fan, visit["External_Id__c"])
    assert shown_web(org) == before
    assert [org.cycle().web_writes for _ in range(2)] == [0, 0]
