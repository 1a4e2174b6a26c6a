"""A Bulk 2.0 ingest job slower than the writer's deadline: the cycle finishes, a later cycle collects
the results, and no record is applied twice (the emulator counts every write per record)."""

from __future__ import annotations

from collections.abc import Callable

from connector.ledger.bulk_jobs import in_flight, pending_jobs
from connector.shell.cycle import CycleReport
from connector.shell.status import status_facts

from .conftest import Org

PROCESSING = 900  # org seconds a closed job takes
DEADLINE = 30  # the connector's wait, summed over its pauses


def slow_bulk_org(make_org: Callable[..., Org]) -> tuple[Org, list[str]]:
    """Six candidates who applied; bulk from 3 writes an object; every job takes 15 min of org time."""
    org = make_org()
    sf = org.client.settings.model_copy(update={"bulk_threshold": 3, "bulk_deadline_seconds": DEADLINE})
    org.client.settings = sf
    org.settings = org.settings.model_copy(update={"salesforce": sf})
    org.em.org.set_bulk_processing(PROCESSING)
    job = org.job()
    fans = [org.candidate(f"Fan{i}") for i in range(6)]
    for fan in fans:
        org.em.org.apply(fan, job, "Intake verwerkt")
    return org, fans


def test_a_job_slower_than_the_deadline_is_collected_later_and_applied_once(
    make_org: Callable[..., Org],
) -> None:
    org, fans = slow_bulk_org(make_org)
    waits: list[float] = []
    org.client._sleep = waits.append  # the pause between polls: counted, no time passes
    first = org.cycle()
    assert first.status.succeeded
    assert first.in_flight >= 6  # the score lines are in a job still running
    assert sum(waits) == DEADLINE  # polled with backoff up to the deadline, then left running
    assert waits[:4] == [1.0, 2.0, 4.0, 8.0]
    jobs = pending_jobs(org.ledger)
    assert [j.object for j in jobs] == ["Lead_Score_Line__c"]
    assert org.em.org.records("Lead_Score_Line__c") == []  # the org has not applied them yet
    assert all(org.contact(f)["Lead_Score__c"] is None for f in fans)  # totals wait for their lines
    assert dict(status_facts(org.ledger)["Ledger"])["bulk jobs running (writes in them)"] == "1 (6)"

    second = org.cycle(after_seconds=120)  # the job still runs: nothing sent again
    assert (second.status.succeeded, second.collected, second.write_calls, second.succeeded) == (
        True,
        0,
        0,
        0,
    )
    assert in_flight(org.ledger) == {(j.object, w.write.key_value) for j in jobs for w in j.writes}

    reports: list[CycleReport] = []
    for _ in range(4):  # lines collected, then the contact fields go out (a job again), collected
        reports.append(org.cycle(after_seconds=PROCESSING))
        if not pending_jobs(org.ledger) and not reports[-1].planned:
            break
    assert not pending_jobs(org.ledger)
    assert sum(r.collected for r in reports) >= 12
    assert all(r.status.succeeded for r in reports)
    lines = org.em.org.records("Lead_Score_Line__c")
    assert len(lines) == 6
    applied = org.em.org.applied()
    assert [applied[line["Id"]] for line in lines] == [1] * 6  # each line written once
    assert [applied[f] for f in fans] == [2] * 6  # created by the test, its fields written once
    assert all(org.contact(f)["Lead_Score__c"] == sum(float(x["Points__c"]) for x in lines
                                                       if x["Contact__c"] == f) for f in fans)  # fmt: skip
    assert org.cycle().planned == 0
