"""Bulk API 2.0 as an org runs it: ingest jobs that take time and answer out of order, query jobs with
locator paging (read by simple-salesforce's own bulk2 client), and the QUERY_TIMEOUT fault."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
import requests
from simple_salesforce.exceptions import SalesforceMalformedRequest

from connector.emulator.testing import RunningEmulator

LINE = "Lead_Score_Line__c"


def _api(em: RunningEmulator) -> tuple[requests.Session, str]:
    """A session with a bearer token, and the data API's base URL."""
    session = em.session()
    session.headers["Authorization"] = "Bearer " + em.token(session)["access_token"]
    return session, f"{em.instance_url}/services/data/v{em.api_version}"


def test_an_ingest_job_is_in_progress_for_its_processing_time_then_complete_out_of_order(
    emulator: RunningEmulator,
) -> None:
    org = emulator.org
    contact = org.create("Contact", {"LastName": "Jansen"})
    org.set_bulk_processing(300)
    session, base = _api(emulator)
    spec = {
        "object": LINE,
        "operation": "upsert",
        "externalIdFieldName": "External_Id__c",
        "contentType": "CSV",
    }
    job = session.post(f"{base}/jobs/ingest", json=spec).json()
    assert job["state"] == "Open"
    keys = [f"{contact}:r{i}" for i in range(12)]
    data = "External_Id__c,Contact__c,Points__c\n" + "".join(
        f"{k},{contact},{i}\n" for i, k in enumerate(keys)
    )
    put = session.put(
        f"{base}/jobs/ingest/{job['id']}/batches", data=data, headers={"Content-Type": "text/csv"}
    )
    assert put.status_code == 201
    closed = session.patch(f"{base}/jobs/ingest/{job['id']}", json={"state": "UploadComplete"}).json()
    assert closed["state"] == "UploadComplete"
    assert session.get(f"{base}/jobs/ingest/{job['id']}").json()["state"] == "InProgress"
    assert org.records(LINE) == []  # nothing applied while the job runs
    org.advance(299)
    assert session.get(f"{base}/jobs/ingest/{job['id']}").json()["state"] == "InProgress"
    org.advance(1)
    done = session.get(f"{base}/jobs/ingest/{job['id']}").json()
    assert (done["state"], done["numberRecordsProcessed"], done["numberRecordsFailed"]) == (
        "JobComplete",
        12,
        0,
    )
    rows = list(
        csv.DictReader(io.StringIO(session.get(f"{base}/jobs/ingest/{job['id']}/successfulResults/").text))
    )
    assert sorted(r["External_Id__c"] for r in rows) == sorted(keys)
    assert [r["External_Id__c"] for r in rows] != keys  # the org's order, not the upload's
    assert all(r["sf__Created"] == "true" for r in rows)
    assert len(org.records(LINE)) == 12
    assert all(n == 1 for rid, n in org.applied().items() if rid != contact)


def test_a_job_completes_by_org_time_even_when_nobody_polls_it(emulator: RunningEmulator) -> None:
    org = emulator.org
    contact = org.create("Contact", {"LastName": "Jansen"})
    org.set_bulk_processing(60)
    sf = emulator.salesforce()
    session, base = _api(emulator)
    spec = {"object": "Contact", "operation": "update", "contentType": "CSV"}
    job = session.post(f"{base}/jobs/ingest", json=spec).json()
    session.put(f"{base}/jobs/ingest/{job['id']}/batches", data=f"Id,LastName\n{contact},Smit\n",
                headers={"Content-Type": "text/csv"})  # fmt: skip
    session.patch(f"{base}/jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    org.advance(61)
    sf.query("SELECT Id FROM Contact")  # any call: the org moved on meanwhile
    assert org.record("Contact", contact)["LastName"] == "Smit"  # type: ignore[index]
    assert org.bulk_jobs[job["id"]]["state"] == "JobComplete"


def test_a_query_job_pages_its_csv_by_locator_for_simple_salesforce_bulk2(emulator: RunningEmulator) -> None:
    org = emulator.org
    contact = org.create("Contact", {"LastName": "Jansen", "Tracking_Consent__c": True})
    for i in range(450):
        org.create(LINE, {"External_Id__c": f"{contact}:r{i}", "Contact__c": contact, "Points__c": i})
    org.delete(LINE, org.records(LINE)[0]["Id"])
    sf = emulator.salesforce()
    org.reset_calls()
    soql = "SELECT Id, External_Id__c, Points__c, Rule__c, Contact__r.Tracking_Consent__c, SystemModstamp"
    pages = list(
        sf.bulk2.Lead_Score_Line__c.query(soql + " FROM Lead_Score_Line__c", max_records=200, wait=0)
    )
    rows = [r for page in pages for r in csv.DictReader(io.StringIO(page))]
    assert len(pages) == 3
    assert len(rows) == 449  # `query` leaves the deleted row out
    assert org.call_counts()["bulk_query_results"] == 3
    first = rows[0]
    assert first["Rule__c"] == ""  # null is an empty cell
    assert first["Contact__r.Tracking_Consent__c"] == "true"
    assert first["SystemModstamp"].endswith(".000Z")
    every = [r for page in sf.bulk2.Lead_Score_Line__c.query_all("SELECT Id FROM Lead_Score_Line__c", wait=0)
             for r in csv.DictReader(io.StringIO(page))]  # fmt: skip
    assert len(every) == 450


def test_query_results_wait_for_the_job(emulator: RunningEmulator) -> None:
    emulator.org.set_bulk_processing(30)
    session, base = _api(emulator)
    job = session.post(
        f"{base}/jobs/query", json={"operation": "query", "query": "SELECT Id FROM Contact"}
    ).json()
    assert (job["state"], job["operation"]) == ("UploadComplete", "query")
    assert session.get(f"{base}/jobs/query/{job['id']}").json()["state"] == "InProgress"
    early = session.get(f"{base}/jobs/query/{job['id']}/results")
    assert early.status_code == 400
    emulator.org.advance(30)
    info = session.get(f"{base}/jobs/query/{job['id']}").json()
    assert (info["state"], info["jobType"]) == ("JobComplete", "V2Query")
    done = session.get(f"{base}/jobs/query/{job['id']}/results")
    assert (done.text, done.headers["Sforce-Locator"], done.headers["Sforce-NumberOfRecords"]) == (
        '"Id"\n',
        "null",
        "0",
    )
    bad = session.post(
        f"{base}/jobs/query", json={"operation": "query", "query": "SELECT Nope__c FROM Contact"}
    )
    assert (bad.status_code, bad.json()[0]["errorCode"]) == (400, "INVALID_FIELD")


def _timeout_code(exc: pytest.ExceptionInfo[SalesforceMalformedRequest]) -> Any:
    return exc.value.content[0]["errorCode"]  # type: ignore[index]


def test_query_timeout_fault_answers_salesforces_shape(emulator: RunningEmulator) -> None:
    org = emulator.org
    for i in range(5):
        org.create("Contact", {"LastName": f"C{i}"})
    sf = emulator.salesforce()
    org.faults.query_timeouts(count=1)
    with pytest.raises(SalesforceMalformedRequest) as first:
        sf.query("SELECT Id FROM Contact")
    assert _timeout_code(first) == "QUERY_TIMEOUT"
    assert first.value.content[0]["message"] == "Your query request was running for too long."  # type: ignore[index]
    assert sf.query("SELECT Id FROM Contact")["totalSize"] == 5  # the burst is spent
    org.faults.query_timeouts(rows_over=3)  # big results time out, small ones pass
    with pytest.raises(SalesforceMalformedRequest) as big:
        sf.query_all("SELECT Id FROM Contact")
    assert _timeout_code(big) == "QUERY_TIMEOUT"
    assert sf.query("SELECT Id FROM Contact WHERE LastName IN ('C1', 'C2')")["totalSize"] == 2
    session = emulator.session()
    admin = session.post(emulator.instance_url + "/__admin__/faults", json={"clear": True}).json()
    assert "bulk_jobs" in admin
    assert sf.query("SELECT Id FROM Contact")["totalSize"] == 5
