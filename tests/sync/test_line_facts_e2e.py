"""Issue 16's "why" on the score lines, over HTTPS against the emulator and several days of its clock:
each line carries its events counted, the latest one's day and the next lapse, written only when one
of them changes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from connector.config import Settings, load_settings

from .conftest import EXAMPLE, Org

HOUR, DAY = 3600, 86400


def settings(folder: Path) -> Settings:
    """The example rules with an intake that counts for 5 days, so a lapse comes within a week."""
    text = EXAMPLE.read_text()
    short = text.replace("points = 30\nvalid_days = 90", "points = 30\nvalid_days = 5")
    assert short != text
    path = folder / "config.toml"
    path.write_text(short)
    return load_settings(path)


def line(org: Org, contact: str, rule: str) -> tuple[object, ...]:
    """(points, events counted, last event day, next lapse day) of one score line in the org."""
    (row,) = [
        r for r in org.em.org.records("Lead_Score_Line__c") if r["External_Id__c"] == f"{contact}:{rule}"
    ]
    days = [row[f] for f in ("Date_Last_Event__c", "Date_Next_Lapse__c")]
    return (int(row["Points__c"]), int(row["Event_Count__c"]), *(d.isoformat() if d else None for d in days))


def counted_cycle(org: Org, after_seconds: float = 120, kind: str = "poll") -> tuple[int, int]:
    """(lines planned, write calls) of one cycle."""
    org.em.org.reset_calls()
    report = org.cycle(after_seconds=after_seconds, kind=kind)
    assert report.status == "ok", report.reason
    return report.writes, org.write_calls()


def test_line_facts_are_written_with_an_event_left_alone_while_idle_and_follow_a_lapse(
    make_org: Callable[..., Org], tmp_path: Path
) -> None:
    org = make_org(settings(tmp_path))
    candidate = org.candidate()
    org.em.org.apply(candidate, org.job(), "Intake verwerkt")  # Monday 2 March, 10:00 in Amsterdam
    assert counted_cycle(org)[0] == 2  # the contact's fields and its one line
    assert line(org, candidate, "intake") == (30, 1, "2026-03-02", "2026-03-07")
    org.cycle()  # settles the contact re-read after our own write
    assert counted_cycle(org) == (0, 0)

    org.em.org.advance(2 * DAY)
    org.em.org.apply(candidate, org.job("Tester"), "Intake verwerkt")  # Wednesday 4 March
    org.cycle()
    assert line(org, candidate, "intake") == (60, 2, "2026-03-04", "2026-03-07")
    org.cycle()
    assert counted_cycle(org) == (0, 0)  # an idle poll
    assert counted_cycle(org, 15 * HOUR, "daily") == (0, 0)  # Thursday's nightly pass: nothing lapses

    # Saturday 7 March, 01:10 in Amsterdam: Monday's intake lapsed, Wednesday's counts until the 9th.
    planned, calls = counted_cycle(org, 2 * DAY, "daily")
    assert line(org, candidate, "intake") == (30, 1, "2026-03-04", "2026-03-09")
    assert (planned, calls) == (2, 2)  # the line, then the contact's score that follows it
    assert int(org.contact(candidate)["Lead_Score__c"]) == 30
    org.cycle()
    assert counted_cycle(org) == (0, 0)


def test_a_fact_changed_in_the_org_is_read_back_and_repaired(org: Org) -> None:
    candidate = org.candidate()
    org.em.org.apply(candidate, org.job(), "Intake verwerkt")
    org.cycle()
    org.cycle()
    (row,) = org.em.org.records("Lead_Score_Line__c")
    org.em.org.update("Lead_Score_Line__c", row["Id"], {"Event_Count__c": 4, "Date_Next_Lapse__c": None})
    report = org.cycle()
    assert report.oddities["contacts_changed_in_org"] == 1
    assert line(org, candidate, "intake") == (30, 1, "2026-03-02", "2026-05-31")
    assert [counted_cycle(org) for _ in range(2)] == [(0, 0), (0, 0)]  # our repair, read back, is no change
