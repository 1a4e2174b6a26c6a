"""QUERY_TIMEOUT from the emulator: a window that times out is halved until its parts pass, and the
cycle ends where a fault-free run ends — same events, same cursor, same scores."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from connector.shell.cycle import CycleReport

from .conftest import T0, Org

APPS = "msf__Job_Application__c"


def history(org: Org) -> list[str]:
    """Five candidates, each with eight applications spread over the last 200 days."""
    job = org.job()
    fans = [org.candidate(f"Fan{i}") for i in range(5)]
    for i in range(40):
        values = {"msf__Candidate__c": fans[i % 5], "msf__Job__c": job, "msf__Step__c": "Intake verwerkt"}
        org.em.org.create(APPS, values, at=T0 - timedelta(days=5 * i + 1))
    return fans


def test_a_timed_out_window_is_halved_until_it_passes_and_ends_where_a_fault_free_run_does(
    make_org: Callable[..., Org],
) -> None:
    faulty, clean = make_org(), make_org()
    fans_faulty, fans_clean = history(faulty), history(clean)
    faulty.em.org.faults.query_timeouts(rows_over=10, sobject=APPS)  # > 10 rows: too long
    faulty.em.org.reset_calls()
    clean.em.org.reset_calls()
    runs: list[CycleReport] = [faulty.cycle(), clean.cycle()]
    assert [r.status.succeeded for r in runs] == [True, True]
    assert runs[0].events_added == runs[1].events_added >= 40
    assert runs[0].fetched["applications"] == runs[1].fetched["applications"] == 40
    assert faulty.ledger.cursor("sf:applications") == clean.ledger.cursor("sf:applications")
    assert faulty.em.org.call_counts()["queryAll"] > clean.em.org.call_counts()["queryAll"] + 4  # halved
    scores = [
        [o.contact(f)["Lead_Score__c"] for f in fans]
        for o, fans in ((faulty, fans_faulty), (clean, fans_clean))
    ]
    assert scores[0] == scores[1]
    assert all(s for s in scores[0])
