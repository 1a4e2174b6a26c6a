"""Issue 12 over HTTPS against the emulator: a week of daily life on the demo org at default settings."""

from __future__ import annotations

from collections import defaultdict

from .conftest import Org

HOUR = 3600.0


def unexplained_scores(org: Org) -> dict[str, tuple[object, int]]:
    """Contacts whose Lead score in the org is not the sum of their score-line records there."""
    points: dict[str, int] = defaultdict(int)
    for line in org.em.org.records("Lead_Score_Line__c"):
        points[str(line["Contact__c"])] += int(line.get("Points__c") or 0)  # type: ignore[call-overload]
    return {
        str(c["Id"]): (c.get("Lead_Score__c"), points[str(c["Id"])])
        for c in org.em.org.records("Contact")
        if (c.get("Lead_Score__c") is not None or points[str(c["Id"])])
        and c.get("Lead_Score__c") != points[str(c["Id"])]
    }


def test_a_week_of_nightly_passes_never_stops_and_the_lines_always_add_up(org: Org) -> None:
    org.em.org.seed("demo")
    first = org.cycle()
    assert first.status == "ok"
    assert first.succeeded > 0
    assert unexplained_scores(org) == {}
    decayed = 0
    for _ in range(7):
        for _ in range(3):  # polls through the day
            assert org.cycle(after_seconds=5 * HOUR).status == "ok"
        nightly = org.cycle(after_seconds=9 * HOUR, kind="daily")
        assert (nightly.status, nightly.reason) == ("ok", "")
        decayed += nightly.planned
        assert unexplained_scores(org) == {}
    assert decayed > 0  # the passes did change scores: expiry and inactivity are not a no-op here
