"""An erasure while a Bulk 2.0 job holding the contact's writes is still running: once the job is
collected, what it wrote of the erased contact is deleted too, and only then is the tombstone settled."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count

import pytest

from connector.ledger.bulk_jobs import pending_jobs
from connector.ledger.erasure import owed_to_org
from connector.shell.erasure import erase_on_request
from connector.shell.sources import mapping_of
from connector.shell.status import status_facts

from .conftest import Org
from .crashes import cycle_killed_at
from .test_bulk_deadline_e2e import PROCESSING, slow_bulk_org
from .test_erasure_e2e import rows_naming
from .test_erasure_org_e2e import EMPTY, children_in_org, shown

OWED = "erasures the org still owes (refused)"


def _erased_while_in_flight(make_org: Callable[..., Org], fields: bool = False) -> tuple[Org, list[str]]:
    """Six fans' score lines (or, with `fields`, their contact fields) in a job still running; the first
    fan is then erased on request."""
    org, fans = slow_bulk_org(make_org)
    org.client._sleep = lambda _: None  # the pauses between polls pass no time
    assert org.cycle().in_flight >= 6
    assert org.em.org.records("Lead_Score_Line__c") == []  # the job has not applied its rows yet
    if fields:  # the lines are collected, the contact fields go out as a job and stay running
        assert org.cycle(after_seconds=PROCESSING).in_flight >= 6
        assert [j.object for j in pending_jobs(org.ledger)] == ["Contact"]
        assert shown(org, fans[0]) == EMPTY
    now = org.em.org.clock.now()
    done = erase_on_request(org.client, org.ledger, mapping_of(org.settings), fans[0], "dpo", now)
    assert done.refused == 0
    assert [t.contact_id for t in owed_to_org(org.ledger)] == [fans[0]]  # held: its lines are in the job
    return org, fans


def _settle(org: Org) -> None:
    for _ in range(5):  # the job ends, is collected; the contact fields follow (a job again)
        report = org.cycle(after_seconds=PROCESSING)
        assert report.status.succeeded
        if not pending_jobs(org.ledger) and not report.planned:
            return
    raise AssertionError("the bulk jobs did not settle")


@pytest.mark.parametrize("fields", [False, True], ids=["score lines", "contact fields"])
def test_an_erasure_during_a_running_job_leaves_nothing_of_the_contact(
    make_org: Callable[..., Org], fields: bool
) -> None:
    org, fans = _erased_while_in_flight(make_org, fields)
    erased, others = fans[0], fans[1:]
    _settle(org)
    assert children_in_org(org, erased) == {}  # what the job created after the erasure is gone
    assert shown(org, erased) == EMPTY  # and what it wrote into the contact is emptied again
    assert rows_naming(org.ledger, erased) == {}
    assert owed_to_org(org.ledger) == []
    assert dict(status_facts(org.ledger)["Ledger"])[OWED] == "0 (0)"
    assert all(children_in_org(org, f) == {"Lead_Score_Line__c": 1} for f in others)
    assert all(shown(org, f)[0] is not None for f in others)
    assert org.cycle().org_deleted == 0


def test_a_kill_between_collecting_the_job_and_deleting_still_erases_all(
    make_org: Callable[..., Org],
) -> None:
    between = 0  # kills that came after the job was collected, before the tombstone was settled
    for crash_at in count():  # every commit of the collecting cycle, and one run past the last
        org, fans = _erased_while_in_flight(make_org)
        died = cycle_killed_at(org, crash_at, after_seconds=PROCESSING)
        lines_job = [j for j in pending_jobs(org.ledger) if j.object == "Lead_Score_Line__c"]
        between += died and not lines_job and bool(owed_to_org(org.ledger))
        _settle(org)
        where = f"killed before commit {crash_at + 1}"
        assert children_in_org(org, fans[0]) == {}, where
        assert shown(org, fans[0]) == EMPTY, where
        assert owed_to_org(org.ledger) == [], where
        if not died:
            break
    assert between >= 1
