"""Issue 11's erasure reaching the org, end to end over HTTPS: what the connector made there goes too."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from itertools import count
from pathlib import Path

import pytest

from connector import paths
from connector.config import load_settings
from connector.config.salesforce import ObjectMapping
from connector.details import DETAIL_NAMES
from connector.emulator.schema import ANONYMISED_FIELD
from connector.ledger import Ledger
from connector.ledger.erasure import audit_of, org_errors, owed_to_org, tombstones
from connector.shell.erasure import erase_on_request
from connector.shell.sources import mapping_of
from connector.shell.status import status_facts
from tests.sf.test_integration_emulator import write_config
from tests.test_cli import run

from .conftest import EXAMPLE, Org
from .crashes import Crash, CrashingLedger, cycle_killed_at
from .test_consent_e2e import _tracked_fan
from .test_erasure_e2e import rows_naming

CHILDREN = ("Lead_Score_Line__c", "Website_Visit__c", "Website_Job_View__c")
# Every recruitment-detail field of the default mapping, and what an erased contact shows in each (the
# trend checkbox unticked, every other field empty): a detail field added later is covered too.
DETAILS = tuple(getattr(ObjectMapping().contact, name) for name in DETAIL_NAMES)
EMPTY = tuple(False if name == "heating_up" else None for name in DETAIL_NAMES)


def children_in_org(org: Org, contact_id: str) -> dict[str, int]:
    """The contact's child records the org still holds (not deleted), by object."""
    found = {obj: sum(r["Contact__c"] == contact_id for r in org.em.org.records(obj)) for obj in CHILDREN}
    return {obj: n for obj, n in found.items() if n}


def shown(org: Org, contact_id: str) -> tuple[object, ...]:
    """The contact's recruitment-detail fields in the org."""
    return tuple(org.contact(contact_id)[f] for f in DETAILS)


def _anonymising(make_org: Callable[..., Org]) -> Org:
    base = load_settings(EXAMPLE)
    return make_org(
        base.model_copy(update={"sync": base.sync.model_copy(update={"anonymised_field": ANONYMISED_FIELD})})
    )


@pytest.fixture
def anon_org(make_org: Callable[..., Org]) -> Org:
    """An org whose contacts carry the anonymised checkbox, mapped as the erase flag."""
    return _anonymising(make_org)


def test_a_deleted_contact_leaves_no_child_record_and_settles_its_tombstone(org: Org, tmp_path: Path) -> None:
    fan = _tracked_fan(org, tmp_path)
    assert set(children_in_org(org, fan)) == set(CHILDREN)
    org.em.org.delete("Contact", fan)
    report = org.cycle()
    # Master-detail children go with the Contact in the org itself; the connector finds none left.
    assert (report.erased, report.org_deleted) == (1, 0)
    assert children_in_org(org, fan) == {}
    assert rows_naming(org.ledger, fan) == {}
    assert owed_to_org(org.ledger) == []
    org.em.org.reset_calls()
    again = org.cycle()
    assert (again.org_deleted, again.writes) == (0, 0)
    assert org.write_calls() == 0, org.em.org.call_counts()


def test_an_anonymised_contact_loses_its_details_and_children_and_stays_erased(
    anon_org: Org, tmp_path: Path
) -> None:
    org = anon_org
    fan = _tracked_fan(org, tmp_path)
    (application,) = [
        r["Id"] for r in org.em.org.records("msf__Job_Application__c") if r["msf__Candidate__c"] == fan
    ]
    org.em.org.update("Contact", fan, {ANONYMISED_FIELD: True, "LastName": "ANON", "FirstName": "ANON"})
    org.cycle()
    assert shown(org, fan) == EMPTY
    assert children_in_org(org, fan) == {}
    assert [t.reason.value for t in tombstones(org.ledger)] == ["anonymised"]
    org.em.org.move_application(application, "Voorgesteld")
    report = org.cycle()
    assert (report.events_added, report.writes, report.org_deleted) == (0, 0, 0)
    assert shown(org, fan) == EMPTY
    assert children_in_org(org, fan) == {}
    assert rows_naming(org.ledger, fan) == {}


def test_erase_on_request_ends_as_an_anonymisation_with_an_audit_row(org: Org, tmp_path: Path) -> None:
    fan = _tracked_fan(org, tmp_path)
    mapping, now = mapping_of(org.settings), org.em.org.clock.now()
    preview = erase_on_request(org.client, org.ledger, mapping, fan, "dpo", now, dry_run=True)
    assert preview.found == 5
    assert (children_in_org(org, fan) != {}, tombstones(org.ledger)) == (True, [])
    done = erase_on_request(org.client, org.ledger, mapping, fan, "dpo", now)
    assert (done.deleted, done.cleared, done.refused) == (5, 1, 0)
    assert shown(org, fan) == EMPTY
    assert children_in_org(org, fan) == {}
    audit = audit_of(org.ledger, fan)
    assert audit is not None
    assert (audit["who"], audit["action"], audit["at"]) == ("dpo", "erase", now.isoformat())
    # Asked again, and the next cycles: nothing changes.
    again = erase_on_request(org.client, org.ledger, mapping, fan, "dpo", now)
    assert (again.found, again.deleted) == (0, 0)
    org.cycle()
    assert (org.cycle().writes, shown(org, fan), children_in_org(org, fan)) == (0, EMPTY, {})
    assert rows_naming(org.ledger, fan) == {}


def test_a_kill_in_the_anonymising_cycle_then_a_normal_cycle_clears_all_of_it(
    make_org: Callable[..., Org], tmp_path: Path
) -> None:
    for crash_at in count():  # every commit of the cycle, and one run past the last
        run = tmp_path / f"kill-{crash_at}"
        run.mkdir()
        org = _anonymising(make_org)
        fan = _tracked_fan(org, run)
        org.em.org.update("Contact", fan, {ANONYMISED_FIELD: True})
        died = cycle_killed_at(org, crash_at)
        org.cycle()
        where = f"killed before commit {crash_at + 1}"
        assert children_in_org(org, fan) == {}, where
        assert shown(org, fan) == EMPTY, where
        assert rows_naming(org.ledger, fan) == {}, where
        assert owed_to_org(org.ledger) == [], where
        if not died:
            break


def test_a_refused_clear_stays_owed_on_the_tombstone_and_is_retried_next_cycle(
    org: Org, tmp_path: Path
) -> None:
    fan = _tracked_fan(org, tmp_path)
    org.em.org.faults.reject_records({fan}, "Candidate is blocked for automated updates")
    done = erase_on_request(
        org.client, org.ledger, mapping_of(org.settings), fan, "dpo", org.em.org.clock.now()
    )
    assert (done.deleted, done.cleared, done.refused) == (5, 0, 1)
    assert children_in_org(org, fan) == {}
    assert org_errors(org.ledger) == {fan: "FIELD_CUSTOM_VALIDATION_EXCEPTION"}
    assert shown(org, fan)[0] == 35
    facts = dict(status_facts(org.ledger)["Ledger"])
    assert (facts["erased contacts"], facts["erasures the org still owes (refused)"]) == (1, "1 (1)")
    org.em.org.faults.clear()
    org.cycle()
    assert (org_errors(org.ledger), owed_to_org(org.ledger)) == ({}, [])
    assert shown(org, fan) == EMPTY
    assert rows_naming(org.ledger, fan) == {}


def test_the_erase_command_on_a_live_contact_ends_as_an_anonymisation_and_is_audited(
    org: Org, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fan = _tracked_fan(org, tmp_path)
    org.ledger.close()  # the command opens the ledger of the state folder: this one, copied there
    shutil.copy(org.ledger.path, paths.ledger_path())
    config = write_config(org.em, tmp_path, monkeypatch)
    code, out, _ = run(capsys, "erase", fan, "--dry-run", "--config", str(config))
    assert (code, "5 records in the org; nothing changed" in out) == (0, True)
    assert children_in_org(org, fan) != {}
    code, out, _ = run(capsys, "erase", fan, "--by", "dpo", "--config", str(config))
    assert (code, "5 records deleted in the org, audited as dpo" in out) == (0, True)
    assert (shown(org, fan), children_in_org(org, fan)) == (EMPTY, {})
    with Ledger(paths.ledger_path()) as ledger:
        audit = audit_of(ledger, fan)
        assert audit is not None
        assert (audit["who"], audit["action"]) == ("dpo", "erase")
        assert rows_naming(ledger, fan) == {}
    code, out, _ = run(capsys, "erase", fan, "--by", "dpo", "--config", str(config))  # again: nothing
    assert (code, "0 records deleted" in out) == (0, True)


def test_a_kill_in_an_erasure_on_request_then_a_normal_cycle_finishes_it(
    make_org: Callable[..., Org], tmp_path: Path
) -> None:
    for crash_at in count():  # every commit of the request, and one run past the last
        run = tmp_path / f"kill-{crash_at}"
        run.mkdir()
        org = make_org()
        fan = _tracked_fan(org, run)
        dying = CrashingLedger(org.ledger.path, crash_at)
        died = False
        try:
            erase_on_request(org.client, dying, mapping_of(org.settings), fan, "dpo", org.em.org.clock.now())
        except Crash:
            died = True
        finally:
            dying.close()
        org.cycle()
        where = f"killed before commit {crash_at + 1}"
        if crash_at == 0:  # killed before the request was recorded: nothing happened, it is asked again
            assert (tombstones(org.ledger), shown(org, fan)[0]) == ([], 35), where
            continue
        assert (shown(org, fan), children_in_org(org, fan)) == (EMPTY, {}), where
        assert (rows_naming(org.ledger, fan), owed_to_org(org.ledger)) == ({}, []), where
        assert audit_of(org.ledger, fan) is not None, where
        if not died:
            break
