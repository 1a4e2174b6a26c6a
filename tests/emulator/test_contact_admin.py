"""The emulator merges, anonymises and deletes contacts as Salesforce does (admin and REST APIs)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connector.emulator.schema import ANONYMISED_FIELD
from connector.emulator.testing import RunningEmulator, running_emulator


@pytest.fixture
def em(tmp_path: Any) -> Iterator[RunningEmulator]:
    """A running emulator on 127.0.0.1."""
    with running_emulator(state_dir=tmp_path) as running:
        yield running


def admin(em: RunningEmulator, body: dict[str, Any]) -> Any:
    """POST an activity to the admin API."""
    answer = em.session(timeout=10).post(f"{em.instance_url}/__admin__/activity", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _candidate_with_children(em: RunningEmulator, name: str) -> tuple[str, str]:
    org = em.org
    contact = org.create("Contact", {"LastName": name, "Email": f"{name}@example.org", "Phone": "0612345678"})
    application = org.apply(contact, org.create("msf__Job__c", {"Name": "Developer"}))
    org.create("Lead_Score_Line__c", {"Contact__c": contact, "Rule__c": "intake", "Points__c": 30,
                                      "External_Id__c": f"{contact}:intake"})  # fmt: skip
    return contact, application


def test_merge_re_parents_children_and_repoints_lookups_and_deletes_the_loser(em: RunningEmulator) -> None:
    master, _ = _candidate_with_children(em, "Master")
    loser, application = _candidate_with_children(em, "Loser")
    before = em.org.record("msf__Job_Application__c", application)
    winner = em.org.record("Contact", master)
    assert before is not None
    assert winner is not None
    em.org.advance(60)
    assert admin(em, {"action": "merge_contacts", "master_id": master, "loser_id": loser}) == {"moved": 2}
    gone = next(r for r in em.org.records("Contact", include_deleted=True) if r["Id"] == loser)
    assert (gone["IsDeleted"], gone["MasterRecordId"]) == (True, master)
    lines = em.org.records("Lead_Score_Line__c")
    assert sorted(r["Contact__c"] for r in lines) == [master, master]  # re-parented, not deleted
    moved = em.org.record("msf__Job_Application__c", application)
    assert moved is not None
    assert moved["msf__Candidate__c"] == master
    assert moved["SystemModstamp"] > before["SystemModstamp"]
    updated = em.org.record("Contact", master)  # the merge ends with an update of the winner
    assert updated is not None
    assert updated["SystemModstamp"] > winner["SystemModstamp"]


def test_anonymise_sets_the_flag_and_scrubs_name_email_and_phone(em: RunningEmulator) -> None:
    contact, _ = _candidate_with_children(em, "Jansen")
    admin(em, {"action": "anonymise_contact", "contact_id": contact})
    row = em.org.record("Contact", contact)
    assert row is not None
    assert (row[ANONYMISED_FIELD], row["FirstName"], row["LastName"], row["Email"], row["Phone"]) == (
        True, None, "ANON", None, None,
    )  # fmt: skip
    assert len(em.org.records("Lead_Score_Line__c")) == 1  # anonymising cascades nothing


def test_deleting_a_contact_through_rest_deletes_its_master_detail_children_only(em: RunningEmulator) -> None:
    contact, application = _candidate_with_children(em, "Jansen")
    session = em.session(timeout=10)
    session.headers["Authorization"] = f"Bearer {em.token(session)['access_token']}"
    answer = session.delete(f"{em.instance_url}/services/data/v{em.api_version}/sobjects/Contact/{contact}")
    assert answer.status_code == 204, answer.text
    assert em.org.records("Lead_Score_Line__c") == []
    assert em.org.record("msf__Job_Application__c", application) is not None  # a lookup stays


def test_an_unknown_contact_cannot_be_merged(em: RunningEmulator) -> None:
    contact, _ = _candidate_with_children(em, "Jansen")
    answer = em.session(timeout=10).post(
        f"{em.instance_url}/__admin__/activity",
        json={"action": "merge_contacts", "master_id": contact, "loser_id": "003000000000000AAA"},
    )
    assert answer.status_code == 400
