"""Read-back over HTTPS against the emulator: what the org holds is the diff base, but an older read
(commit lag) never undoes what the org accepted from us."""

from __future__ import annotations

from connector.ledger.sync_state import shown_details

from .conftest import Org


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
