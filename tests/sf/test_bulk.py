"""Bulk 2.0 helpers: polling to a deadline with backoff, CSV rows in REST form, results by key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.sf.bulk import csv_record, ingest_results, wait_for


class Jobs:
    """A fake org answering a job's status from a script, and results CSV by path."""

    def __init__(self, states: list[str], csv: Mapping[str, str] | None = None) -> None:
        self.states, self.csv, self.gets = states, csv or {}, 0

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        self.gets += 1
        return {"state": self.states.pop(0) if len(self.states) > 1 else self.states[0]}

    def send(self, method: str, path: str, body: Any = None, *, idempotent: bool) -> Any:
        raise AssertionError("not used")

    def send_raw(self, method: str, path: str, *, data: str | None = None, content_type: str = "text/csv",
                 headers_out: dict[str, str] | None = None) -> str:  # fmt: skip
        return self.csv[path]


def test_polling_backs_off_and_stops_at_the_deadline_without_a_clock() -> None:
    pauses: list[float] = []
    jobs = Jobs(["UploadComplete", "InProgress"])
    assert wait_for(jobs, "jobs/ingest/750x", deadline=20, pause=pauses.append) is None
    assert pauses == [1, 2, 4, 8, 5]  # the last wait is cut to the deadline
    assert jobs.gets == 6  # one look after the last wait


def test_polling_returns_the_final_state_as_soon_as_the_job_is_done() -> None:
    pauses: list[float] = []
    state = wait_for(Jobs(["InProgress", "InProgress", "JobComplete"]), "p", deadline=60, pause=pauses.append)
    assert state == {"state": "JobComplete"}
    assert pauses == [1, 2]


def test_a_csv_row_reads_as_the_rest_record_would() -> None:
    row = {"Id": "a0C1", "IsDeleted": "false", "SystemModstamp": "2026-03-02T09:00:00.000Z",
           "msf__Step__c": "", "RecordType.DeveloperName": "Candidate", "Points__c": "5"}  # fmt: skip
    assert csv_record(row) == {
        "Id": "a0C1", "IsDeleted": False, "SystemModstamp": "2026-03-02T09:00:00.000+0000",
        "msf__Step__c": None, "RecordType": {"DeveloperName": "Candidate"}, "Points__c": "5",
    }  # fmt: skip


def test_ingest_results_are_matched_by_key_not_by_position() -> None:
    ok = '"sf__Id","sf__Created","External_Id__c"\n"a1","true","k2"\n"a0","false","k1"\n'
    failed = '"sf__Id","sf__Error","External_Id__c"\n"","FIELD_CUSTOM_VALIDATION_EXCEPTION:blocked:--","k3"\n'
    jobs = Jobs(
        ["JobComplete"],
        {"jobs/ingest/750x/successfulResults/": ok, "jobs/ingest/750x/failedResults/": failed},
    )
    found = list(ingest_results(jobs, "750x", "External_Id__c"))
    assert found == [("k2", True, "", ""), ("k1", True, "", ""),
                     ("k3", False, "FIELD_CUSTOM_VALIDATION_EXCEPTION", "blocked:--")]  # fmt: skip
