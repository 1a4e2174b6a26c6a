"""Single-record CRUD, sObject Collections and Bulk 2.0 through unmodified simple-salesforce."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceOperationError,
    SalesforceResourceNotFound,
)

from connector.emulator.testing import RunningEmulator

LINE = "Lead_Score_Line__c"


def _line(contact: str, ext: str, points: float = 5, **more: Any) -> dict[str, Any]:
    return {
        "attributes": {"type": LINE},
        "External_Id__c": ext,
        "Contact__c": contact,
        "Points__c": points,
        **more,
    }


def test_450_score_lines_upsert_through_collections_in_3_calls(emulator: RunningEmulator) -> None:
    contact = emulator.org.create("Contact", {"LastName": "Jansen"})
    sf = emulator.salesforce()
    emulator.org.reset_calls()
    records = [_line(contact, f"{contact}:rule{i}", i) for i in range(450)]
    results: list[dict[str, Any]] = []
    for start in range(0, 450, 200):
        chunk = records[start : start + 200]
        results += sf.restful(
            f"composite/sobjects/{LINE}/External_Id__c",
            method="PATCH",
            json={"allOrNone": False, "records": chunk},
        )
    assert emulator.org.call_counts() == {"collections_upsert": 3}
    assert all(r["success"] and r["created"] for r in results)
    assert len(emulator.org.records(LINE)) == 450
    # Upserting again with new points updates in place: same ids, created = false.
    records[7]["Points__c"] = 99
    again = sf.restful(
        f"composite/sobjects/{LINE}/External_Id__c",
        method="PATCH",
        json={"allOrNone": False, "records": records[:200]},
    )
    assert [r["id"] for r in again] == [r["id"] for r in results[:200]]
    assert not any(r["created"] for r in again)
    assert emulator.org.record(LINE, results[7]["id"])["Points__c"] == 99.0  # type: ignore[index]


def test_collection_results_are_per_record_and_in_order(emulator: RunningEmulator) -> None:
    contact = emulator.org.create("Contact", {"LastName": "Jansen"})
    sf = emulator.salesforce()
    body = {
        "allOrNone": False,
        "records": [
            {"attributes": {"type": "Contact"}, "Id": contact, "Lead_Score__c": 40, "Medal__c": "Silver"},
            {"attributes": {"type": "Contact"}, "Id": contact, "Lead_Score__c": "forty"},
            {"attributes": {"type": "Contact"}, "Id": contact, "Medal__c": "Platinum"},
            {"attributes": {"type": "Contact"}, "Id": contact, "FirstName": "x" * 41},
            {"attributes": {"type": "Contact"}, "Id": contact, "LastName": None},
            {"attributes": {"type": "Contact"}, "Id": "003Kb0000009999AAA", "Lead_Score__c": 1},
        ],
    }
    results = sf.restful("composite/sobjects", method="PATCH", json=body)
    codes = [r["errors"][0]["statusCode"] if r["errors"] else "ok" for r in results]
    assert codes == [
        "ok",
        "INVALID_TYPE_ON_FIELD_IN_RECORD",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "STRING_TOO_LONG",
        "REQUIRED_FIELD_MISSING",
        "INVALID_CROSS_REFERENCE_KEY",
    ]
    assert results[0] == {"id": contact, "success": True, "errors": []}
    assert emulator.org.record("Contact", contact)["Medal__c"] == "Silver"  # type: ignore[index]


def test_all_or_none_rolls_back_every_record_of_the_request(emulator: RunningEmulator) -> None:
    contact = emulator.org.create("Contact", {"LastName": "Jansen"})
    sf = emulator.salesforce()
    records = [_line(contact, "a"), _line(contact, "b", points="many"), _line(contact, "c")]
    results = sf.restful(
        f"composite/sobjects/{LINE}/External_Id__c",
        method="PATCH",
        json={"allOrNone": True, "records": records},
    )
    assert [r["success"] for r in results] == [False, False, False]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "INVALID_TYPE_ON_FIELD_IN_RECORD"
    assert emulator.org.records(LINE) == []
    assert emulator.org.store.by_external_id(LINE, "External_Id__c", "a") is None


def test_collections_refuse_more_than_200_records(emulator: RunningEmulator) -> None:
    contact = emulator.org.create("Contact", {"LastName": "Jansen"})
    sf = emulator.salesforce()
    records = [_line(contact, str(i)) for i in range(201)]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful(f"composite/sobjects/{LINE}/External_Id__c", method="PATCH", json={"records": records})
    assert caught.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert emulator.org.records(LINE) == []


def test_lookups_must_exist_and_external_ids_are_unique(emulator: RunningEmulator) -> None:
    contact = emulator.org.create("Contact", {"LastName": "Jansen"})
    sf = emulator.salesforce()
    results = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "records": [
                _line(contact, "x"),
                _line(contact, "X"),
                _line("003Kb0000009999AAA", "y"),
                _line(contact[:15], "z"),
            ]
        },
    )
    codes = [r["errors"][0]["statusCode"] if r["errors"] else "ok" for r in results]
    assert codes == ["ok", "DUPLICATE_VALUE", "INVALID_CROSS_REFERENCE_KEY", "ok"]


def test_single_record_crud_and_upsert(emulator: RunningEmulator) -> None:
    sf = emulator.salesforce()
    created = sf.Contact.create({"LastName": "Bakker", "Date_First_Qualification__c": "2026-03-02"})
    cid = created["id"]
    assert created["success"]
    assert len(cid) == 18
    assert cid.startswith("003")
    assert sf.Contact.update(cid, {"Lead_Score__c": 30}) == 204
    got = sf.Contact.get(cid)
    assert got["Lead_Score__c"] == 30.0
    assert got["Date_First_Qualification__c"] == "2026-03-02"
    assert got["CreatedDate"].endswith(".000+0000")
    assert sf.Lead_Score_Line__c.upsert("External_Id__c/k1", {"Contact__c": cid, "Points__c": 1}) == 201
    assert sf.Lead_Score_Line__c.upsert("External_Id__c/k1", {"Points__c": 2}) == 200
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Contact.create({"FirstName": "NoLast"})
    assert caught.value.content == [
        {
            "message": "Required fields are missing: [LastName]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["LastName"],
        }
    ]
    assert sf.Contact.delete(cid) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.get(cid)


def test_field_history_records_each_step_change(emulator: RunningEmulator) -> None:
    org = emulator.org
    contact = org.create("Contact", {"LastName": "Jansen"})
    job = org.create("msf__Job__c", {"Name": "Lasser"})
    app = org.apply(contact, job, "Websollicitatie")
    org.move_application(app, "Intake verwerkt")
    org.move_application(app, "Voorgesteld")
    sf = emulator.salesforce()
    rows = sf.query(
        "SELECT ParentId, Field, OldValue, NewValue, CreatedDate FROM msf__Job_Application__History "
        "WHERE Field = 'msf__Step__c' ORDER BY CreatedDate, Id"
    )["records"]
    assert [(r["OldValue"], r["NewValue"]) for r in rows] == [
        ("Websollicitatie", "Intake verwerkt"),
        ("Intake verwerkt", "Voorgesteld"),
    ]
    assert {r["ParentId"] for r in rows} == {app}


def test_bulk_2_upsert_with_null_and_unchanged_semantics(emulator: RunningEmulator) -> None:
    org = emulator.org
    contact = org.create("Contact", {"LastName": "Jansen"})
    org.create(LINE, {"External_Id__c": "keep", "Contact__c": contact, "Points__c": 5, "Rule__c": "intake"})
    sf = emulator.salesforce()
    records = [
        {"External_Id__c": "keep", "Contact__c": "", "Points__c": "7", "Rule__c": "#N/A"},
        {"External_Id__c": "new", "Contact__c": contact, "Points__c": "3", "Rule__c": "visit"},
        {"External_Id__c": "bad", "Contact__c": contact, "Points__c": "lots", "Rule__c": "visit"},
    ]
    (result,) = sf.bulk2.Lead_Score_Line__c.upsert(
        records=records, external_id_field="External_Id__c", wait=0
    )
    assert result["numberRecordsProcessed"] == 3
    assert result["numberRecordsFailed"] == 1
    keep = org.record(LINE, org.store.by_external_id(LINE, "External_Id__c", "keep") or "")
    assert keep is not None
    assert (keep["Points__c"], keep["Rule__c"], keep["Contact__c"]) == (7.0, None, contact)
    job_id = result["job_id"]
    ok = sf.bulk2.Lead_Score_Line__c.get_successful_records(job_id)
    failed = sf.bulk2.Lead_Score_Line__c.get_failed_records(job_id)
    assert ok.splitlines()[0].startswith('"sf__Id","sf__Created"')
    assert len(ok.splitlines()) == 3
    assert "INVALID_TYPE_ON_FIELD_IN_RECORD" in failed
    assert emulator.org.call_counts()["bulk_create_job"] == 1


def test_bulk_job_with_an_unknown_column_fails_with_a_message(emulator: RunningEmulator) -> None:
    sf = emulator.salesforce()
    with pytest.raises(SalesforceOperationError, match="Field name not found : Nope__c"):
        sf.bulk2.Contact.insert(records=[{"LastName": "A", "Nope__c": "1"}], wait=0)


def test_dates_round_trip_as_iso_dates(emulator: RunningEmulator) -> None:
    cid = emulator.org.create("Contact", {"LastName": "D", "Date_First_Placement__c": "2026-05-01"})
    assert emulator.org.record("Contact", cid)["Date_First_Placement__c"] == date(2026, 5, 1)  # type: ignore[index]


def test_upsert_by_the_external_id_of_a_deleted_record_creates_a_new_one(emulator: RunningEmulator) -> None:
    contact = emulator.org.create("Contact", {"LastName": "Jansen"})
    first = emulator.org.create(LINE, {"Contact__c": contact, "External_Id__c": "k1", "Points__c": 30})
    emulator.org.delete(LINE, first)
    sf = emulator.salesforce()
    (result,) = sf.restful(
        f"composite/sobjects/{LINE}/External_Id__c",
        method="PATCH",
        json={"allOrNone": False, "records": [_line(contact, "k1", 30)]},
    )
    assert (result["success"], result["created"]) == (True, True)
    assert result["id"] != first
    (live,) = emulator.org.records(LINE)
    assert (live["Id"], live["External_Id__c"]) == (result["id"], "k1")
    assert len(emulator.org.records(LINE, include_deleted=True)) == 2
