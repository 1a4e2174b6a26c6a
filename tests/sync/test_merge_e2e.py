"""Issue 11's merges, end to end over HTTPS on a test clock: the survivor keeps both histories.

The reference is a twin org where the same person had one Contact all along: after the merge, the
survivor must show what that one Contact shows (score, band, medal, dates, lines, visits, job views),
and nothing in the org may stay keyed to the loser.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from itertools import count
from pathlib import Path
from typing import Any

from connector.details import ErasureReason
from connector.emulator.contacts import merge_contacts
from connector.ledger.consent import consent_history
from connector.ledger.erasure import owed_to_org, tombstones
from connector.shell.pixel import ingest_files
from connector.shell.status import status_facts
from tests.pixel.helpers import T0, hit, settings, token, write_hits

from .conftest import Org
from .crashes import cycle_killed_at, org_snapshot
from .test_erasure_e2e import rows_naming

DAY = 86400.0
CHILDREN = ("Lead_Score_Line__c", "Website_Visit__c", "Website_Job_View__c")


def _story(org: Org, tmp_path: Path, *, twin: bool) -> tuple[str, str]:
    """Two days of one person's activity: on two duplicate Contacts, or (`twin`) on one all along.

    Returns (survivor, loser); in the twin both are the one Contact.
    """
    job = org.job()
    keep = org.candidate("Dup")
    other = keep if twin else org.candidate("Dup")
    application = org.em.org.apply(other, job, "Intake verwerkt")
    org.em.org.create("Event", {"WhoId": other, "Subject": "Kennismaking",
                                "StartDateTime": "2026-03-05T09:00:00Z"})  # fmt: skip
    message = org.em.org.create("EmailMessage", {"Subject": "Vacature", "Incoming": False})
    org.em.org.create("EmailMessageRelation", {"EmailMessageId": message, "RelationId": keep,
                                               "RelationType": "ToAddress"})  # fmt: skip
    org.em.org.open_email(message, clicked=True)
    org.cycle()
    log = write_hits(tmp_path / "hits.ndjson", [
        hit(1, url=f"https://agency.nl/vacatures/{job}?mt={token(other)}", visitor="v-dup"),
        hit(3, url="https://agency.nl/", visitor="v-dup"),
        hit(100, url="https://agency.nl/contact", visitor="v-dup"),  # a visit still open
    ])  # fmt: skip
    ingest_files(org.ledger, settings(), [log], T0 + timedelta(minutes=105))
    org.cycle(after_seconds=3600)
    org.em.org.advance(DAY)
    org.em.org.move_application(application, "Voorgesteld")  # silver, on the duplicate
    org.em.org.reply_email(message)
    org.cycle()
    return keep, other


def _merged_story(org: Org, tmp_path: Path) -> tuple[str, str]:
    keep, loser = _story(org, tmp_path, twin=False)
    assert org.contact(loser)["Medal__c"] == "Silver"
    assert org.contact(keep)["Medal__c"] is None
    org.em.org.advance(DAY)
    merge_contacts(org.em.org, keep, loser)
    return keep, loser


def _after(org: Org, survivor: str) -> dict[str, Any]:
    """A day later: the moved application goes on and the open visit's visitor comes back."""
    (application,) = [r["Id"] for r in org.em.org.records("msf__Job_Application__c")]
    org.em.org.advance(DAY)
    org.em.org.move_application(application, "Aangenomen")
    org.cycle()
    org.cycle()
    return org_snapshot(org.em.org, {survivor: "person"})


def _twin(make_org: Callable[..., Org], tmp_path: Path) -> dict[str, Any]:
    org = make_org()
    run = tmp_path / "twin"
    run.mkdir()
    person, _ = _story(org, run, twin=True)
    org.em.org.advance(DAY)
    org.cycle()
    return _after(org, person)


def _keyed_to(org: Org, contact_id: str) -> list[str]:
    """Child records in the org that name the contact, by its field or by their external id."""
    found = []
    for obj in CHILDREN:
        for r in org.em.org.records(obj):
            ext = str(r["External_Id__c"])
            if r["Contact__c"] == contact_id or ext.startswith(contact_id):
                found.append(f"{obj}:{ext}")
    return found


def test_the_survivor_of_a_merge_shows_what_one_contact_all_along_shows(
    make_org: Callable[..., Org], tmp_path: Path
) -> None:
    reference = _twin(make_org, tmp_path)
    org = make_org()
    keep, loser = _merged_story(org, tmp_path)
    report = org.cycle()
    assert (report.merged, report.erased) == (1, 0)
    (stone,) = tombstones(org.ledger)
    assert (stone.contact_id, stone.reason) == (loser, ErasureReason.MERGED)
    assert owed_to_org(org.ledger) == []
    assert _keyed_to(org, loser) == []
    assert rows_naming(org.ledger, loser) == {}
    shown = org.contact(keep)
    assert (shown["Medal__c"], shown["Date_First_Qualification__c"]) == ("Silver", date(2026, 3, 2))
    lines = {r["Rule__c"]: r["Points__c"] for r in org.em.org.records("Lead_Score_Line__c")}
    assert shown["Lead_Score__c"] == sum(lines.values())
    assert org.cycle().writes == 0  # a second cycle writes nothing
    # The merged record is in every window's lookback until the cursor passes it: read again, nothing.
    org.ledger.set_cursor("sf:contacts", "2026-01-01T00:00:00Z", T0)
    again = org.cycle()
    assert (again.merged, again.events_added, again.writes, again.org_deleted) == (0, 0, 0, 0)
    facts = dict(status_facts(org.ledger)["Ledger"])
    assert (facts["erased contacts"], facts["merged into another contact"]) == (0, 1)
    assert _after(org, keep) == reference
    assert reference["contacts"]["person"][2] == "Gold"
    assert reference["visits"]
    assert reference["job views"]
    assert reference["duplicates"] == []


def test_a_kill_at_each_commit_of_the_merging_cycle_then_a_normal_cycle_ends_the_same(
    make_org: Callable[..., Org], tmp_path: Path
) -> None:
    ends: dict[int, dict[str, Any]] = {}
    for crash_at in count():  # every commit of the merging cycle, then one run without a kill
        run = tmp_path / f"kill-{crash_at}"
        run.mkdir()
        org = make_org()
        keep, loser = _merged_story(org, run)
        died = cycle_killed_at(org, crash_at)
        org.cycle()
        where = f"killed before commit {crash_at + 1}"
        assert _keyed_to(org, loser) == [], where
        assert rows_naming(org.ledger, loser) == {}, where
        assert owed_to_org(org.ledger) == [], where
        assert org.cycle().writes == 0, where
        ends[crash_at] = org_snapshot(org.em.org, {keep: "person", loser: "loser"})
        if not died:
            assert _after(org, keep) == _twin(make_org, tmp_path)  # the run without a kill is right
            break
    assert crash_at >= 8  # sources, scoring, writes, the org's deletes: each a commit
    unkilled = ends.pop(crash_at)
    assert [k for k, end in ends.items() if end != unkilled] == []


def _visitor_owner(org: Org, visitor: str) -> list[str]:
    rows = org.ledger.db.execute("SELECT contact_id FROM pixel_visitors WHERE visitor_id = ?", [visitor])
    return [str(r[0]) for r in rows]


def test_the_loser_s_visitor_links_and_open_visits_follow_a_survivor_who_consented(
    org: Org, tmp_path: Path
) -> None:
    keep, _ = _merged_story(org, tmp_path)
    org.cycle()
    assert _visitor_owner(org, "v-dup") == [keep]
    pending = org.ledger.db.execute("SELECT DISTINCT contact_id FROM pixel_pending").fetchall()
    assert [str(r[0]) for r in pending] == [keep]  # the visit still open goes on under the survivor
    # The evidence of the answer the moved web data was collected under comes along, marked as merged.
    assert sorted(src for _, _, src in consent_history(org.ledger, keep)) == ["contacts", "contacts (merged)"]


def test_a_survivor_without_consent_takes_the_history_but_not_the_web_data(org: Org, tmp_path: Path) -> None:
    keep, loser = _story(org, tmp_path, twin=False)
    org.em.org.update("Contact", keep, {"Tracking_Consent__c": False})
    org.cycle()
    before = org.contact(keep)["Lead_Score__c"]
    merge_contacts(org.em.org, keep, loser)
    org.cycle()
    assert _visitor_owner(org, "v-dup") == []
    assert [(yes, src) for yes, _, src in consent_history(org.ledger, keep)] == [
        (True, "contacts"), (False, "contacts")
    ]  # fmt: skip
    web = org.ledger.db.execute(
        "SELECT count(*) FROM events WHERE contact_id = ? AND kind LIKE 'web.%'", [keep]
    ).fetchone()[0]
    assert web == 0
    assert _keyed_to(org, loser) == []
    assert [r for obj in CHILDREN[1:] for r in org.em.org.records(obj)] == []  # no visit, no job view
    shown = org.contact(keep)
    # The loser's application (intake, proposed) and appointment count; its website lines do not.
    assert shown["Lead_Score__c"] == before + 30 + 25 + 10
    assert shown["Medal__c"] == "Silver"
    assert rows_naming(org.ledger, loser) == {}


def test_merging_two_contacts_without_history_writes_nothing(org: Org) -> None:
    keep, loser = org.candidate("Quiet"), org.candidate("Quiet")
    org.cycle()
    merge_contacts(org.em.org, keep, loser)
    report = org.cycle()
    assert (report.merged, report.scored, report.writes) == (1, 0, 0)
    assert org.contact(keep)["Lead_Score__c"] is None


def test_a_tracked_link_mailed_to_the_loser_counts_for_the_survivor(org: Org, tmp_path: Path) -> None:
    keep, loser = _merged_story(org, tmp_path)
    org.cycle()
    visits = "SELECT count(*) FROM events WHERE contact_id = ? AND kind = 'web.visit'"
    before = org.ledger.db.execute(visits, [keep]).fetchone()[0]
    later = write_hits(tmp_path / "later.ndjson", [
        hit(4 * 24 * 60, url=f"https://agency.nl/?mt={token(loser)}", visitor="v-mail"),
    ])  # fmt: skip
    report = ingest_files(org.ledger, settings(), [later], T0 + timedelta(days=5))
    assert report.counts.credited == 1
    # The new visit, and the one the loser left open (its hits moved to the survivor) ending now.
    assert org.ledger.db.execute(visits, [keep]).fetchone()[0] == before + 2
    assert _visitor_owner(org, "v-mail") == [keep]
    org.cycle()
    assert rows_naming(org.ledger, loser) == {}
    assert _keyed_to(org, loser) == []
