"""An agency's week on the demo org, over HTTPS against the emulator and on its test clock.

Seven days of three polls and a nightly pass, the pixel read in every cycle as the daemon reads it,
and between the cycles what an agency does: recruiters move applications, candidates read and answer
mail and browse the site, an admin edits the rules (a small edit applies, a large one is held back
until forced), two duplicates are merged, one candidate is deleted and another anonymised, a fan
withdraws consent. After every cycle the org must still hold up: each invariant is a small function
returning what breaks it, empty when it holds.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from connector.config import Settings, load_settings
from connector.demo.live import Simulator
from connector.details import ErasureReason
from connector.emulator.contacts import anonymise_contact, merge_contacts
from connector.emulator.schema import ANONYMISED_FIELD
from connector.events import Event
from connector.ledger.erasure import tombstones
from connector.ledger.history import history_of
from connector.scoring import Rulebook
from connector.shell.cycle import CycleReport
from connector.shell.service import CycleService
from tests.pixel.helpers import SECRET, T0, hit, settings, token, write_hits

from .conftest import EXAMPLE, Org
from .test_consent_e2e import ledger_rows, live_web_records
from .test_daily_life_e2e import unexplained_scores
from .test_erasure_e2e import rows_naming
from .test_erasure_org_e2e import DETAILS, EMPTY, children_in_org
from .test_rails import with_points

HOUR, MINUTE = 3600.0, 60.0
RANK = {None: 0, "Bronze": 1, "Silver": 2, "Gold": 3}
NO_WEB = {"web_events": 0, "pending_hits": 0, "visitor_links": 0}


def lines_without_facts(org: Org) -> list[str]:
    """Score lines whose facts do not fit their points: a rule line with points and no event counted or
    no day of its latest event, or the inactivity line with either (no event counts there)."""
    wrong = []
    for r in org.em.org.records("Lead_Score_Line__c"):
        counted, last = r["Event_Count__c"], r["Date_Last_Event__c"]
        if r["Rule__c"] == "inactivity":
            if counted or last is not None:
                wrong.append(str(r["External_Id__c"]))
        elif r["Points__c"] and (not counted or counted < 1 or last is None):
            wrong.append(str(r["External_Id__c"]))
    return wrong


def lowered_medals(org: Org, seen: dict[str, int], erased: set[str]) -> dict[str, tuple[int, int]]:
    """Contacts (not erased) whose medal in the org is lower than the highest it showed; `seen` is
    kept up to date."""
    lowered = {}
    for c in org.em.org.records("Contact"):
        if c["Id"] in erased:
            continue
        rank = RANK[c["Medal__c"]]
        if rank < seen.get(c["Id"], 0):
            lowered[str(c["Id"])] = (seen[c["Id"]], rank)
        seen[c["Id"]] = max(rank, seen.get(c["Id"], 0))
    return lowered


def remains_of(org: Org, contact_id: str) -> dict[str, int]:
    """What the org (its child records) and the ledger (every row but the tombstone) hold of a contact."""
    return {**children_in_org(org, contact_id), **rows_naming(org.ledger, contact_id)}


def lines_off_rate(org: Org, rule: str, points: int) -> list[str]:
    """Lines of an uncapped rule whose points are not `points` for each event counted."""
    return [
        str(r["External_Id__c"])
        for r in org.em.org.records("Lead_Score_Line__c")
        if r["Rule__c"] == rule and r["Points__c"] != points * (r["Event_Count__c"] or 0)
    ]


def week_settings(folder: Path) -> Settings:
    """The example config with the pixel reading `folder`, and the org's anonymised checkbox mapped as
    the erase flag (the example leaves `[sync] anonymised_field` empty: not every org has one)."""
    base = load_settings(EXAMPLE)
    return base.model_copy(update={
        "sync": base.sync.model_copy(update={"anonymised_field": ANONYMISED_FIELD}),
        "pixel": settings(folder=folder),
    })  # fmt: skip


@dataclass
class Week:
    """The org, the daemon's pixel sources, the agency's people, and what the invariants remember."""

    org: Org
    service: CycleService
    people: Simulator
    hits: Path
    medals: dict[str, int] = field(default_factory=dict)
    statuses: list[str] = field(default_factory=list)
    nightly: list[tuple[datetime, CycleReport]] = field(default_factory=list)
    erased: str = ""
    anonymised: str = ""
    merged: tuple[str, str] = ("", "")  # (survivor, loser)
    withdrawn: str = ""
    visitors: dict[str, str] = field(default_factory=dict)  # contact (or stranger) -> visitor id

    def cycle(self, after_seconds: float, status: str = "ok", **kw: object) -> CycleReport:
        """One cycle as the daemon runs it (the pixel folder read too), then every invariant."""
        report = self.org.cycle(after_seconds, other_sources=self.service.other_sources(), **kw)
        self.statuses.append(report.status)
        assert (report.status, report.failures) == (status, []), report.reason
        self.check()
        return report

    def check(self) -> None:
        """Every invariant of the org and the ledger after a cycle."""
        org = self.org
        assert unexplained_scores(org) == {}
        assert lines_without_facts(org) == []
        stones = {t.contact_id: t.reason for t in tombstones(org.ledger)}
        assert lowered_medals(org, self.medals, set(stones)) == {}
        for gone, reason in ((self.erased, ErasureReason.DELETED), (self.merged[1], ErasureReason.MERGED)):
            if gone:
                assert stones[gone] == reason
                assert remains_of(org, gone) == {}
                assert [str(r) for r in org.em.org.records("Lead_Score_Line__c") if gone in str(r)] == []
        if self.anonymised:
            assert stones[self.anonymised] == ErasureReason.ANONYMISED
            assert remains_of(org, self.anonymised) == {}
            assert tuple(org.contact(self.anonymised)[f] for f in DETAILS) == EMPTY
        if self.withdrawn:
            assert live_web_records(org, self.withdrawn) == []
            assert ledger_rows(org, self.withdrawn) == NO_WEB

    def browse(self, rnd: random.Random) -> None:
        """A few consenting candidates and a stranger on the site (the demo's simulator names its
        visitors after their contacts, which would read as a contact's remains in the ledger)."""
        consenting = sorted(
            str(c["Id"]) for c in self.org.em.org.records("Contact") if c["Tracking_Consent__c"]
        )
        jobs = sorted(str(j["Id"]) for j in self.org.em.org.records("msf__Job__c"))
        for person in rnd.sample(consenting, 4):
            self.visit(person, rnd.choice(jobs))
        self.visit("", rnd.choice(jobs))

    def visit(self, contact_id: str, job: str) -> None:
        """Someone follows a tracked link (none for a stranger) and reads a vacancy, soon after now."""
        visitor = self.visitors.setdefault(contact_id or f"stranger {len(self.visitors)}",
                                           f"visitor-{len(self.visitors)}")  # fmt: skip
        minutes = (self.org.em.org.clock.now() - T0).total_seconds() / MINUTE + 10
        landing = f"https://agency.nl/?mt={token(contact_id)}" if contact_id else "https://agency.nl/"
        write_hits(self.hits, [
            hit(minutes, url=landing, visitor=visitor),
            hit(minutes + 2, url=f"https://agency.nl/vacatures/{job}", visitor=visitor),
        ], mode="a")  # fmt: skip

    def settled(self) -> None:
        """A cycle right after the last one, nothing done between: it writes nothing to the org."""
        self.org.em.org.reset_calls()
        report = self.cycle(2 * MINUTE)
        assert (report.writes, self.org.write_calls()) == (0, 0), self.org.em.org.call_counts()


def start(make_org: Callable[..., Org], tmp_path: Path) -> Week:
    """The demo org, its first cycle (the backfill) and the agency's people."""
    folder = tmp_path / "pixel"
    folder.mkdir()
    org = make_org(week_settings(folder))
    org.em.org.seed("demo")
    service = CycleService(org.settings, lambda: org.ledger, org.client)
    hits = folder / "hits.ndjson"
    week = Week(org, service, Simulator(org.em.org, random.Random(7), hits, SECRET.encode()), hits)
    assert week.cycle(2 * MINUTE).succeeded > 0
    return week


def fans(org: Org) -> list[str]:
    """Candidates with a score and tracking consent, in a stable order."""
    return sorted(
        str(c["Id"])
        for c in org.em.org.records("Contact")
        if c["Tracking_Consent__c"] and c["Lead_Score__c"] is not None and c["Medal__c"]
    )


def test_an_agency_s_week_keeps_every_invariant_after_every_cycle(
    make_org: Callable[..., Org], tmp_path: Path
) -> None:
    week = start(make_org, tmp_path)
    org, em = week.org, week.org.em.org
    withdrawer, erased, anonymised, keep, loser, witness = fans(org)[:6]
    jobs = sorted(str(j["Id"]) for j in em.records("msf__Job__c"))
    merged_events: list[Event] = []
    rnd = random.Random(11)
    for day in range(1, 8):
        for poll in range(3):  # 14:00, 19:00 and 24:00 UTC
            week.people.act()
            week.browse(rnd)
            kw: dict[str, object] = {}
            status = "ok"
            if day == 1 and poll == 0:
                for person in (withdrawer, erased, anonymised, keep, loser):
                    week.visit(person, jobs[0])
            if day == 2 and poll == 0:  # an admin's small edit: 34 contacts change, under the rail
                org.settings = with_points(org, "appointment", 11)
            if day == 2 and poll == 1:  # and a large one: every intake of 90 days
                org.settings = with_points(org, "intake", 45)
                status = "stopped"
            if day == 2 and poll == 2:
                kw["force"] = True
            if day == 3 and poll == 0:
                assert children_in_org(org, loser) != {}
                merged_events = [e for es in org.ledger.events_of([keep, loser]).values() for e in es]
                merge_contacts(em, keep, loser)
            if day == 4 and poll == 0:
                assert children_in_org(org, erased) != {}
                em.delete("Contact", erased)
                anonymise_contact(em, anonymised)
            if day == 5 and poll == 0:
                week.visit(withdrawer, jobs[1])
                assert live_web_records(org, withdrawer) != []
                em.update("Contact", withdrawer, {"Tracking_Consent__c": False})
            if day == 6 and poll == 0:  # hits after the erasures and the withdrawal: refused
                for person in (withdrawer, erased, anonymised, loser):
                    week.visit(person, jobs[2])
            report = week.cycle(5 * HOUR, status, **kw)
            if day == 2 and poll == 0:
                assert report.held_back == ""
                assert lines_off_rate(org, "appointment", 11) == []
            if day == 2 and poll == 1:
                assert "intake (changed)" in report.reason
                assert lines_off_rate(org, "intake", 30) == []  # held back: the rules in force
            if day == 2 and poll == 2:
                assert lines_off_rate(org, "intake", 45) == []
            if day == 3 and poll == 0:
                assert report.merged == 1
                week.merged = (keep, loser)
                week.check()
                expected = Rulebook(org.settings.scoring, org.settings.medals, em.clock.now())
                both = expected.score(keep, [*merged_events, *org.ledger.events_of([keep])[keep]])
                assert org.contact(keep)["Lead_Score__c"] == both.details.score
            if day == 4 and poll == 0:
                assert report.erased == 2, report.summary()
                week.erased, week.anonymised = erased, anonymised
                week.check()
            if day == 5 and poll == 0:
                assert report.withdrawn == 1
                week.withdrawn = withdrawer
                week.check()
        em.advance(65 * MINUTE - 120)  # 02:05 in Amsterdam
        nightly = week.cycle(120, kind="daily")
        week.nightly.append((em.clock.now(), nightly))
        week.settled()
        em.advance(8 * HOUR - 7 * MINUTE)  # the next morning, 09:00 UTC
    assert [s for s in week.statuses if s != "ok"] == ["stopped"]
    assert sum(report.writes for _, report in week.nightly) > 0  # expiry and decay are not a no-op
    assert [row.at for row in history_of(org.ledger, witness)] == [at for at, _ in week.nightly]


def test_the_invariants_see_an_org_that_breaks_them(org: Org) -> None:
    candidate, job = org.candidate(), org.job()
    org.em.org.apply(candidate, job, "Intake verwerkt")
    org.em.org.apply(candidate, org.job("Tester"), "Voorgesteld")
    org.cycle()
    score = org.contact(candidate)["Lead_Score__c"]
    assert score == 55  # intake 30 + proposed 25: Silver
    seen: dict[str, int] = {}
    assert (unexplained_scores(org), lines_without_facts(org), lowered_medals(org, seen, set())) == (
        {},
        [],
        {},
    )
    (line, *_) = [r for r in org.em.org.records("Lead_Score_Line__c") if r["Rule__c"] == "intake"]
    org.em.org.update("Lead_Score_Line__c", line["Id"], {"Event_Count__c": 0, "Points__c": 31})
    org.em.org.update("Contact", candidate, {"Medal__c": "Bronze"})
    assert lines_without_facts(org) == [line["External_Id__c"]]
    assert unexplained_scores(org) == {candidate: (score, 56)}
    assert lowered_medals(org, seen, set()) == {candidate: (2, 1)}
    assert lowered_medals(org, seen, {candidate}) == {}  # an erased contact's medal may go
    assert lines_off_rate(org, "intake", 30) == [line["External_Id__c"]]
    assert remains_of(org, candidate) != {}
