"""The writer at HTTP level: chunks of 200, per-record results, lock retries, Bulk 2.0 above the threshold."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import responses

from connector.details import RecordWrite
from connector.sf.client import SalesforceClient
from connector.sf.writer import Outcome, apply_plan, bulk_csv
from tests.sf.conftest import BASE

COLLECTIONS = BASE + "composite/sobjects"


def contact(i: int, score: int = 10) -> RecordWrite:
    """A contact update by Id."""
    return RecordWrite("Contact", "Id", f"003{i:015d}", {"Lead_Score__c": score, "Medal__c": None})


def line(contact_id: str, rule: str) -> RecordWrite:
    """A score-line upsert by external id."""
    return RecordWrite(
        "Lead_Score_Line__c", "External_Id__c", f"{contact_id}:{rule}", {"Points__c": 1}, contact_id
    )


def ok_all(request: Any) -> tuple[int, dict[str, str], str]:
    """Answer a collections call with success for every record."""
    records = json.loads(request.body)["records"]
    return 200, {}, json.dumps([{"id": r.get("Id"), "success": True, "errors": []} for r in records])


def test_450_contact_updates_cost_three_calls_of_at_most_200(
    client: SalesforceClient, rsps: responses.RequestsMock
) -> None:
    rsps.add_callback(responses.PATCH, COLLECTIONS, callback=ok_all)
    result = apply_plan(client, [contact(i) for i in range(450)], pause=lambda _s: None)
    bodies = [json.loads(c.request.body) for c in rsps.calls if c.request.method == "PATCH"]
    assert [len(b["records"]) for b in bodies] == [200, 200, 50]
    assert all(b["allOrNone"] is False for b in bodies)
    assert bodies[0]["records"][0] == {
        "attributes": {"type": "Contact"},
        "Lead_Score__c": 10,
        "Medal__c": None,
        "Id": "003000000000000000",
    }
    assert result.calls == 3
    assert len(result.succeeded) == 450


def test_an_empty_plan_costs_nothing(client: SalesforceClient, rsps: responses.RequestsMock) -> None:
    result = apply_plan(client, [])
    assert result.calls == 0
    assert len(rsps.calls) == 0


def test_only_the_locked_record_is_retried_and_the_invalid_one_is_dead_lettered(
    client: SalesforceClient, rsps: responses.RequestsMock
) -> None:
    plan = [contact(i) for i in range(200)]
    first = True

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        nonlocal first
        records = json.loads(request.body)["records"]
        out = []
        for r in records:
            if first and r["Id"] == plan[7].key_value:
                out.append(
                    {"success": False, "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW", "message": "busy"}]}
                )
            elif r["Id"] == plan[9].key_value:
                out.append(
                    {
                        "success": False,
                        "errors": [{"statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": "no"}],
                    }
                )
            else:
                out.append({"id": r["Id"], "success": True, "errors": []})
        first = False
        return 200, {}, json.dumps(out)

    rsps.add_callback(responses.PATCH, COLLECTIONS, callback=answer)
    pauses: list[float] = []
    result = apply_plan(client, plan, pause=pauses.append)
    retried = json.loads(rsps.calls[-1].request.body)["records"]
    assert [r["Id"] for r in retried] == [plan[7].key_value]
    assert len(result.succeeded) == 199  # 198 at once, then the retried one
    assert [(f.write, f.error_code) for f in result.failed] == [
        (plan[9], "FIELD_CUSTOM_VALIDATION_EXCEPTION")
    ]
    assert result.retriable == ()
    assert result.calls == 2
    assert pauses == [1.0]


def test_children_are_upserted_by_external_id(client: SalesforceClient, rsps: responses.RequestsMock) -> None:
    rsps.add_callback(responses.PATCH, COLLECTIONS + "/Website_Visit__c/External_Id__c", callback=ok_all)
    write = RecordWrite(
        "Website_Visit__c", "External_Id__c", "v-1", {"Contact__c": "003A", "Pages__c": 3}, "003A"
    )
    result = apply_plan(client, [write])
    assert result.succeeded == (write,)
    body = json.loads(rsps.calls[-1].request.body)
    assert body["records"][0]["External_Id__c"] == "v-1"
    assert client.calls_by_kind == {"rest_write": 1}


def test_a_plan_above_the_threshold_goes_through_bulk_2(
    client: SalesforceClient, rsps: responses.RequestsMock
) -> None:
    plan = [contact(i, score=i) for i in range(5)]
    rsps.post(BASE + "jobs/ingest", json={"id": "750J", "state": "Open"})
    rsps.put(BASE + "jobs/ingest/750J/batches", status=201, body="")
    rsps.patch(BASE + "jobs/ingest/750J", json={"id": "750J", "state": "UploadComplete"})
    rsps.get(BASE + "jobs/ingest/750J", json={"id": "750J", "state": "InProgress"})
    rsps.get(BASE + "jobs/ingest/750J", json={"id": "750J", "state": "JobComplete"})
    good = "sf__Id,sf__Created,Id,Lead_Score__c\n" + "".join(
        f"{w.key_value},false,{w.key_value},{w.values['Lead_Score__c']}\n" for w in plan[:4]
    )
    rsps.get(BASE + "jobs/ingest/750J/successfulResults/", body=good)
    bad = f'sf__Id,sf__Error,Id\n{plan[4].key_value},"STRING_TOO_LONG:too long:--",{plan[4].key_value}\n'
    rsps.get(BASE + "jobs/ingest/750J/failedResults/", body=bad)
    pauses: list[float] = []
    result = apply_plan(client, plan, bulk_threshold=3, pause=pauses.append)
    assert not any(c.request.url.startswith(COLLECTIONS) for c in rsps.calls)
    spec = json.loads(rsps.calls[1].request.body)
    assert spec["operation"] == "update"
    uploaded = list(csv.reader(io.StringIO(rsps.calls[2].request.body.decode())))
    assert uploaded[0] == ["Id", "Lead_Score__c", "Medal__c"]
    assert uploaded[1] == [plan[0].key_value, "0", "#N/A"]
    assert len(result.succeeded) == 4
    assert [(f.error_code, f.message) for f in result.failed] == [("STRING_TOO_LONG", "too long:--")]
    assert pauses == [1.0]
    assert client.calls_by_kind == {"bulk": len(rsps.calls) - 1}  # all but the login: metrics by kind


def test_bulk_csv_leaves_absent_fields_alone_and_nulls_with_na() -> None:
    text = bulk_csv(
        "External_Id__c",
        [
            RecordWrite("X__c", "External_Id__c", "k1", {"A__c": True}),
            RecordWrite("X__c", "External_Id__c", "k2", {"B__c": None}),
        ],
    )
    assert text == "External_Id__c,A__c,B__c\nk1,true,\nk2,,#N/A\n"


def test_a_request_limit_stops_the_plan_and_reports_the_unsent(
    client: SalesforceClient, rsps: responses.RequestsMock
) -> None:
    rsps.add_callback(responses.PATCH, COLLECTIONS, callback=ok_all)
    rsps.patch(COLLECTIONS, status=403, json=[{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "limit"}])
    plan = [contact(i) for i in range(450)]
    # responses answers registered callbacks for the same URL in order: first OK, then 403 forever.
    result = apply_plan(client, plan)
    assert result.counts() == {"accepted": 200, "refused": 0, "retriable": 0, "in_flight": 0, "not_sent": 250}
    assert [o.write for o in result.not_sent] == plan[200:]
    assert "REQUEST_LIMIT_EXCEEDED" in result.stopped
    assert client.breaker.open_until is not None


def test_groups_the_writer_never_started_are_reported_not_sent(
    client: SalesforceClient, rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    lines_url = COLLECTIONS + "/Lead_Score_Line__c/External_Id__c"
    visits_url = COLLECTIONS + "/Website_Visit__c/External_Id__c"
    rsps.add_callback(responses.PATCH, COLLECTIONS, callback=ok_all)
    rsps.patch(lines_url, status=503, json=[{"errorCode": "SERVER_UNAVAILABLE", "message": "down"}])
    rsps.add_callback(responses.PATCH, visits_url, callback=ok_all)
    contacts = [contact(i) for i in range(3)]
    lines = [line(c.key_value, "intake") for c in contacts]
    visits = [
        RecordWrite("Website_Visit__c", "External_Id__c", f"v-{i}", {"Pages__c": 1}, c.key_value)
        for i, c in enumerate(contacts)
    ]
    result = apply_plan(client, [*contacts, *lines, *visits], pause=lambda _s: None)
    # The 503s outlast the client's four attempts at the score lines; the visits are never sent.
    assert len(sleeps) == 3
    assert not any(c.request.url == visits_url for c in rsps.calls)
    assert [(o.write, o.outcome) for o in result.outcomes] == [
        *((c, Outcome.ACCEPTED) for c in contacts),
        *((w, Outcome.NOT_SENT) for w in [*lines, *visits]),
    ]
    assert "SERVER_UNAVAILABLE" in result.stopped
    assert all(o.message == result.stopped for o in result.not_sent)


def test_rows_a_bulk_job_left_unprocessed_are_retried_and_otherwise_retriable(
    client: SalesforceClient, rsps: responses.RequestsMock
) -> None:
    plan = [contact(i) for i in range(4)]
    rsps.post(BASE + "jobs/ingest", json={"id": "750J", "state": "Open"})
    rsps.put(BASE + "jobs/ingest/750J/batches", status=201, body="")
    rsps.patch(BASE + "jobs/ingest/750J", json={"id": "750J", "state": "UploadComplete"})
    rsps.get(BASE + "jobs/ingest/750J", json={"id": "750J", "state": "JobComplete"})
    good = "sf__Id,sf__Created,Id\n" + "".join(f"{w.key_value},false,{w.key_value}\n" for w in plan[:2])
    rsps.get(BASE + "jobs/ingest/750J/successfulResults/", body=good)
    rsps.get(BASE + "jobs/ingest/750J/failedResults/", body="sf__Id,sf__Error,Id\n")
    locked = [{"success": False, "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW", "message": "busy"}]}] * 2
    rsps.patch(COLLECTIONS, json=locked)
    result = apply_plan(client, plan, bulk_threshold=3, lock_retries=1, pause=lambda _s: None)
    retried = json.loads(rsps.calls[-1].request.body)["records"]
    assert [r["Id"] for r in retried] == [w.key_value for w in plan[2:]]
    assert [o.outcome for o in result.outcomes] == [Outcome.ACCEPTED] * 2 + [Outcome.RETRIABLE] * 2


def test_children_of_one_parent_travel_together(
    client: SalesforceClient, rsps: responses.RequestsMock
) -> None:
    rsps.add_callback(responses.PATCH, COLLECTIONS + "/Lead_Score_Line__c/External_Id__c", callback=ok_all)
    plan = [
        RecordWrite("Lead_Score_Line__c", "External_Id__c", f"{parent}:{rule}", {"Points__c": 1}, parent)
        for rule in ("intake", "visit")
        for parent in ("003B", "003A")
    ]
    apply_plan(client, plan)
    sent = [r["External_Id__c"] for r in json.loads(rsps.calls[-1].request.body)["records"]]
    assert sent == ["003A:intake", "003A:visit", "003B:intake", "003B:visit"]
