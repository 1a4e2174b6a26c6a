"""The writer's account: for any plan and any point where the cycle stops, every write ends exactly once.

A state-based fake org answers each record from a script (accepted, locked, refused, or left by a bulk
job) and breaks for good at a chosen call. It remembers the last answer it gave for each record, so the
test checks the writer's outcomes against what the org really said, not against the writer's own notes.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.details import RecordWrite
from connector.errors import ApiLimitError, BudgetExceededError, MsrEngageError, TransientError
from connector.sf.writer import LOCKED, Outcome, WriteResult, apply_plan

OBJECTS = (
    ("Contact", "Id"),
    ("Lead_Score_Line__c", "External_Id__c"),
    ("Website_Visit__c", "External_Id__c"),
)
# What the org says to one record, send after send (the last answer repeats).
ANSWERS = ("ok", "locked", "refused", "left")  # "left": a bulk job leaves the row unprocessed
EXPECTED = {
    "ok": Outcome.ACCEPTED,
    "refused": Outcome.REFUSED,
    "locked": Outcome.RETRIABLE,
    "left": Outcome.RETRIABLE,
}
Key = tuple[str, str]  # (object, key value)


@dataclass
class FakeOrg:
    """A WritePort answering per record from `script`; from call `break_at` on every call raises `error`."""

    script: Mapping[Key, tuple[str, ...]]
    break_at: int | None
    error: MsrEngageError
    calls: int = 0
    sends: dict[Key, int] = field(default_factory=dict)
    said: dict[Key, str] = field(default_factory=dict)  # the last answer the writer was given per record
    jobs: dict[str, tuple[str, str, list[Key]]] = field(default_factory=dict)  # id -> object, key, rows
    job_verdicts: dict[tuple[str, Key], str] = field(default_factory=dict)

    def _call(self) -> None:
        self.calls += 1
        if self.break_at is not None and self.calls >= self.break_at:
            raise self.error

    def _verdict(self, key: Key) -> str:
        answers = self.script[key]
        sent = self.sends.get(key, 0)
        self.sends[key] = sent + 1
        return answers[min(sent, len(answers) - 1)]

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """Bulk job state: every job is complete by the first poll."""
        self._call()
        return {"id": path.rsplit("/", 1)[1], "state": "JobComplete"}

    def send(self, method: str, path: str, body: Any = None, *, idempotent: bool) -> Any:
        """Collections upserts and updates; bulk job creation and close."""
        self._call()
        if path == "jobs/ingest":
            job_id = f"750{len(self.jobs)}"
            self.jobs[job_id] = (body["object"], body.get("externalIdFieldName", "Id"), [])
            return {"id": job_id, "state": "Open"}
        if path.startswith("jobs/ingest/"):
            return {"state": "UploadComplete"}
        out = []
        for record in body["records"]:
            obj = record["attributes"]["type"]
            key_field = "Id" if path == "composite/sobjects" else path.rsplit("/", 1)[1]
            key = (obj, record[key_field])
            verdict = self._verdict(key)
            verdict = "locked" if verdict == "left" else verdict  # only a bulk job leaves rows
            self.said[key] = verdict
            if verdict == "ok":
                out.append({"id": key[1], "success": True, "errors": []})
            else:
                code = LOCKED if verdict == "locked" else "FIELD_CUSTOM_VALIDATION_EXCEPTION"
                out.append({"success": False, "errors": [{"statusCode": code, "message": verdict}]})
        return out

    def send_raw(
        self, method: str, path: str, *, data: str | None = None, content_type: str = "text/csv"
    ) -> str:
        """Bulk CSV upload, and the successful / failed results (answers are given when those are read)."""
        self._call()
        job_id, what = path.split("/")[2], path.split("/")[3]
        obj, key_field, keys = self.jobs[job_id]
        if what == "batches":
            keys.extend((obj, row[key_field]) for row in csv.DictReader(io.StringIO(data or "")))
            return ""
        verdicts = {key: self._peek(key, job_id) for key in keys}
        wanted = "ok" if what == "successfulResults" else "refused"
        lines = [f"sf__Id,sf__Error,{key_field}"]
        for key, verdict in verdicts.items():
            if verdict == wanted:
                lines.append(f"{key[1]},{'' if verdict == 'ok' else 'STRING_TOO_LONG:too long'},{key[1]}")
                self.said[key] = verdict
            elif what == "failedResults" and verdict in ("locked", "left"):
                self.said[key] = "left"  # in neither file: the writer learns it was left unprocessed
        return "\n".join(lines) + "\n"

    def _peek(self, key: Key, job_id: str) -> str:
        """A job's verdict on a row is drawn once (at the first results file) and kept for the second."""
        if (job_id, key) not in self.job_verdicts:
            verdict = self._verdict(key)
            self.job_verdicts[(job_id, key)] = "left" if verdict == "locked" else verdict
        return self.job_verdicts[(job_id, key)]


# Every script of one to three answers, drawn whole: one draw per write keeps the examples cheap.
SCRIPTS = [script for n in (1, 2, 3) for script in itertools.product(ANSWERS, repeat=n)]
WRITES = st.tuples(st.sampled_from(OBJECTS), st.integers(0, 5), st.sampled_from(SCRIPTS))


@st.composite
def plans(draw: st.DrawFn) -> tuple[list[RecordWrite], dict[Key, tuple[str, ...]]]:
    """Up to 40 writes over three objects with distinct keys, each with a script of the org's answers."""
    writes: list[RecordWrite] = []
    script: dict[Key, tuple[str, ...]] = {}
    for n, ((obj, key_field), parent, answers) in enumerate(draw(st.lists(WRITES, max_size=40))):
        writes.append(RecordWrite(obj, key_field, f"k{n}", {"V__c": n}, f"003{parent}"))
        script[(obj, f"k{n}")] = answers
    return writes, script


STOPS = st.sampled_from(
    [
        TransientError("HTTP 503"),
        ApiLimitError("HTTP 403 REQUEST_LIMIT_EXCEEDED"),
        BudgetExceededError("budget"),
    ]
)


def run(
    plan: list[RecordWrite], org: FakeOrg, bulk_threshold: int, lock_retries: int, size: int
) -> WriteResult:
    """The writer against the fake org, never pausing."""
    return apply_plan(
        org,
        plan,
        bulk_threshold=bulk_threshold,
        lock_retries=lock_retries,
        pause=lambda _s: None,
        collection_size=size,
    )


@settings(max_examples=300, deadline=None)
@given(
    drawn=plans(),
    break_at=st.none() | st.integers(1, 30),
    error=STOPS,
    bulk_threshold=st.integers(1, 12),
    lock_retries=st.integers(0, 3),
    size=st.integers(1, 5),
)
def test_every_planned_write_ends_in_exactly_the_outcome_the_org_gave_it(
    drawn: tuple[list[RecordWrite], dict[Key, tuple[str, ...]]],
    break_at: int | None,
    error: MsrEngageError,
    bulk_threshold: int,
    lock_retries: int,
    size: int,
) -> None:
    plan, script = drawn
    org = FakeOrg(script, break_at, error)
    result = run(plan, org, bulk_threshold, lock_retries, size)
    assert [o.write for o in result.outcomes] == plan
    assert sum(result.counts().values()) == len(plan)
    for o in result.outcomes:
        said = org.said.get((o.write.object, o.write.key_value))
        assert o.outcome == (EXPECTED[said] if said else Outcome.NOT_SENT), (o, said)
    broke = break_at is not None and org.calls >= break_at
    assert result.stopped == (str(error) if broke else "")
    assert result.calls == org.calls


def test_a_stop_at_the_first_call_leaves_the_whole_plan_not_sent() -> None:
    plan = [RecordWrite(obj, key, f"k{n}", {}, "003A") for n, (obj, key) in enumerate(OBJECTS)]
    org = FakeOrg({(w.object, w.key_value): ("ok",) for w in plan}, 1, TransientError("HTTP 503"))
    result = run(plan, org, bulk_threshold=10, lock_retries=3, size=2)
    assert [o.outcome for o in result.outcomes] == [Outcome.NOT_SENT] * 3
    assert result.calls == 1
