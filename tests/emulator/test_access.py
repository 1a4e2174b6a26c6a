"""What the integration user sees (field-level security) and field history tracking, over HTTPS."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from connector.emulator.testing import RunningEmulator

TRACKED = (
    "SELECT QualifiedApiName, IsFieldHistoryTracked FROM FieldDefinition"
    " WHERE EntityDefinition.QualifiedApiName = 'msf__Job_Application__c' AND QualifiedApiName = '{}'"
)


def setup(em: RunningEmulator, body: dict[str, Any]) -> None:
    """POST a setup change to the admin API."""
    answer = em.session(timeout=10).post(f"{em.instance_url}/__admin__/setup", json=body)
    assert answer.status_code == 200, answer.text


def test_field_definition_says_which_fields_keep_history(emulator: RunningEmulator) -> None:
    sf = emulator.salesforce()
    step = sf.query(TRACKED.format("msf__Step__c"))["records"]
    assert [(r["QualifiedApiName"], r["IsFieldHistoryTracked"]) for r in step] == [("msf__Step__c", True)]
    assert sf.query(TRACKED.format("msf__Job__c"))["records"][0]["IsFieldHistoryTracked"] is False
    setup(emulator, {"track": {"object": "msf__Job_Application__c", "field": "msf__Step__c", "on": False}})
    assert sf.query(TRACKED.format("msf__Step__c"))["records"][0]["IsFieldHistoryTracked"] is False


def test_a_step_moved_while_tracking_is_off_leaves_no_history_row(emulator: RunningEmulator) -> None:
    org = emulator.org
    contact = org.create("Contact", {"LastName": "Jansen"})
    job = org.create("msf__Job__c", {"Name": "Developer"})
    application = org.apply(contact, job)
    org.set_tracked("msf__Job_Application__c", "msf__Step__c", False)
    org.move_application(application, "Intake verwerkt")
    org.set_tracked("msf__Job_Application__c", "msf__Step__c", True)
    org.move_application(application, "Afgewezen")
    rows = emulator.salesforce().query(
        "SELECT NewValue FROM msf__Job_Application__History WHERE Field = 'msf__Step__c'"
    )["records"]
    assert [r["NewValue"] for r in rows] == ["Afgewezen"]


def test_a_hidden_field_is_gone_from_describe_and_queries(emulator: RunningEmulator) -> None:
    setup(emulator, {"hide": {"object": "EmailMessage", "field": "FirstOpenedDate"}})
    sf = emulator.salesforce()
    names = {f["name"] for f in sf.EmailMessage.describe()["fields"]}
    assert "FirstOpenedDate" not in names
    assert "Subject" in names
    with pytest.raises(SalesforceMalformedRequest, match="No such column 'FirstOpenedDate'"):
        sf.query("SELECT Id, FirstOpenedDate FROM EmailMessage")
    setup(emulator, {"show": {"object": "EmailMessage", "field": "FirstOpenedDate"}})
    assert sf.query("SELECT Id, FirstOpenedDate FROM EmailMessage")["totalSize"] == 0


def test_a_hidden_object_is_gone_from_describe_global_describe_and_queries(emulator: RunningEmulator) -> None:
    setup(emulator, {"hide": {"object": "Event"}})
    sf = emulator.salesforce()
    assert "Event" not in {o["name"] for o in sf.describe()["sobjects"]}
    with pytest.raises(SalesforceResourceNotFound):
        sf.Event.describe()
    with pytest.raises(SalesforceMalformedRequest, match="INVALID_TYPE"):
        sf.query("SELECT Id FROM Event")
