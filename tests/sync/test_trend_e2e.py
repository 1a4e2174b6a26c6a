"""The trend, last engagement and explanation reach the org through the emulator, only when they change."""

from __future__ import annotations

from datetime import timedelta

from .conftest import T0, Org

DAY = 86_400.0


def trend(org: Org, contact_id: str) -> tuple[object, ...]:
    c = org.contact(contact_id)
    engaged_on = c["Date_Last_Engagement__c"]
    return (c["Heating_Up__c"], None if engaged_on is None else str(engaged_on), c["Last_Engagement__c"])


def writes(org: Org) -> int:
    return org.write_calls()


def test_heating_up_is_written_then_cleared_by_the_nightly_pass_a_week_later(org: Org) -> None:
    candidate, job = org.candidate(), org.job()
    org.em.org.apply(candidate, job, "Intake verwerkt")
    org.cycle()
    org.cycle()  # settles the contact re-read after our own write
    assert trend(org, candidate) == (True, T0.date().isoformat(), "intake")
    until = (T0.date() + timedelta(days=90)).isoformat()  # the example's intake is valid 90 days
    assert org.contact(candidate)["Lead_Score_Explanation__c"] == f"Intake 30 until {until}"

    org.em.org.reset_calls()
    assert org.cycle().writes == 0
    assert org.cycle(kind="daily").writes == 0
    assert writes(org) == 0

    org.cycle(after_seconds=8 * DAY, kind="daily")  # a week on, the band is what it was then
    assert trend(org, candidate) == (False, T0.date().isoformat(), "intake")
    assert org.contact(candidate)["Lead_Score_Band__c"] == "Lukewarm"
    org.cycle()
    org.em.org.reset_calls()
    assert org.cycle(kind="daily").writes == 0
    assert writes(org) == 0
