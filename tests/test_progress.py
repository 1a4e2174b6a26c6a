"""Progress of the first sync and a backfill: bars per object read and written on a terminal, none off it."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from connector.emulator.testing import RunningEmulator
from connector.entry import cli
from connector.entry.progress import WatchedOrg, WireProgress, queried_object, wire_progress
from connector.sf.readers import Page
from tests.test_cli import run
from tests.test_daemon import connector_env, live_org

__all__ = ["live_org"]  # the fixture


class _Inner:
    """Just enough of an org for the watcher: fixed pages, echoed writes, one Bulk job."""

    settings: Any = None
    org_id = "00DKb0000000001"
    usage = None
    breaker: Any = None

    def __init__(self, pages: list[int]) -> None:
        self.pages = pages

    def start_cycle(self) -> None: ...

    def end_cycle(self) -> None: ...

    def count(self, soql: str) -> int:
        return sum(self.pages)

    def query_pages(
        self, soql: str, *, include_deleted: bool = True, bulk_above: int | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        for size in self.pages:
            page = Page({"Id": str(n)} for n in range(size))
            page.total = sum(self.pages)  # as the client tells it: every page of the query
            yield page

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return {}

    def send(self, method: str, path: str, body: Any = None, *, idempotent: bool) -> Any:
        return {"id": "750Kb0000000001"} if path == "jobs/ingest" else [{"success": True}]

    def send_raw(
        self,
        method: str,
        path: str,
        *,
        data: str | None = None,
        content_type: str = "text/csv",
        headers_out: dict[str, str] | None = None,
    ) -> str:
        return ""


def test_the_watcher_counts_pages_per_object_and_records_sent_per_object() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    with wire_progress(console) as bars:
        watch = WireProgress(bars)
        org = WatchedOrg(_Inner([2000, 2000, 13]), watch)
        soql = "SELECT Id, (SELECT Id FROM EmailMessageRelations) FROM EmailMessage WHERE Id != null"
        assert sum(len(page) for page in org.query_pages(soql)) == 4013
        assert sum(len(page) for page in org.query_pages("SELECT Id FROM EmailMessage")) == 4013
        records = [{"attributes": {"type": "Contact"}, "Id": "003"}] * 200
        org.send("PATCH", "composite/sobjects", {"allOrNone": False, "records": records}, idempotent=True)
        org.send("PATCH", "composite/sobjects", {"allOrNone": False, "records": records[:7]}, idempotent=True)
        org.send(
            "POST", "jobs/ingest", {"object": "Lead_Score_Line__c", "operation": "upsert"}, idempotent=False
        )
        org.send_raw("PUT", "jobs/ingest/750Kb0000000001/batches", data='Id,Note\n1,"two\nlines"\n2,x\n')
        org.send("DELETE", "composite/sobjects?ids=a0X1", idempotent=True)  # deletes are not writes sent
        assert org.org_id == "00DKb0000000001"  # the rest passes through
    assert watch.counts == {
        "read EmailMessage": (8026, 6),
        "sent Contact": (207, 2),
        "sent Lead_Score_Line__c": (2, 1),
    }
    shown = {bars.tasks[task].description: bars.tasks[task].fields["detail"] for task in watch.tasks.values()}
    ends = {bars.tasks[task].description: bars.tasks[task].total for task in watch.tasks.values()}
    assert ends == {"read EmailMessage": 8026, "sent Contact": None, "sent Lead_Score_Line__c": None}
    assert shown == {
        "read EmailMessage": "8,026 of 8,026 records, 6 pages",  # two queries, each told once
        "sent Contact": "207 records, 2 calls",
        "sent Lead_Score_Line__c": "2 records, 1 call",
    }


@pytest.mark.parametrize(
    ("soql", "obj"),
    [
        ("SELECT Id FROM Contact WHERE Id IN ('003')", "Contact"),
        ("select Id, (SELECT Id FROM Histories) from msf__Job_Application__c", "msf__Job_Application__c"),
        ("SELECT COUNT() FROM Event", "Event"),
    ],
)
def test_queried_object_is_the_outer_from(soql: str, obj: str) -> None:
    assert queried_object(soql) == obj


def _small_org(em: RunningEmulator) -> None:
    org = em.org
    rt = org.record_types["Candidate"]
    job = org.create("msf__Job__c", {"Name": "Developer"})
    for name in ("Jansen", "De Vries", "Bakker"):
        contact = org.create("Contact", {"LastName": name, "RecordTypeId": rt, "Tracking_Consent__c": True})
        org.apply(contact, job, step="Intake verwerkt")
    # live_org runs 5 s behind the real clock: these are stamped in the past, due for the first cycle


def _env(tmp_path: Path, em: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in connector_env(tmp_path, em).items():
        if key.startswith("MSR_ENGAGE_"):
            monkeypatch.setenv(key, value)


def test_first_sync_on_a_terminal_shows_transient_bars_per_object_on_stderr(
    tmp_path: Path,
    live_org: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _small_org(live_org)
    _env(tmp_path, live_org, monkeypatch)
    terminal = io.StringIO()
    monkeypatch.setattr(cli, "err", Console(file=terminal, force_terminal=True, width=200))
    code, out, _ = run(capsys, "sync", "--once")
    assert code == 0
    assert "3 contacts scored" in out
    drawn = terminal.getvalue()
    for bar in ("read msf__Job_Application__c", "read Contact", "sent Contact"):
        assert bar in drawn, bar
    assert "3 of 3 records, 1 page" in drawn  # the three applications, in one page, as totalSize said
    # Transient: after its last frame the bars are wiped (cursor up, erase line, per bar drawn).
    last_frame = drawn.rindex("sent Contact")
    assert drawn.count("\x1b[2K", last_frame) >= 3


def test_first_sync_off_a_terminal_draws_no_bar(
    tmp_path: Path,
    live_org: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _small_org(live_org)
    _env(tmp_path, live_org, monkeypatch)
    code, out, err = run(capsys, "sync", "--once")
    assert code == 0
    assert "3 contacts scored" in out
    assert "records," not in err
    assert "\x1b[" not in err
    assert all(json.loads(line)["event"] for line in err.splitlines())  # only the cycle's log lines


def test_backfill_on_a_terminal_shows_its_windows_and_what_it_read(
    tmp_path: Path,
    live_org: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _small_org(live_org)
    _env(tmp_path, live_org, monkeypatch)
    terminal = io.StringIO()
    monkeypatch.setattr(cli, "err", Console(file=terminal, force_terminal=True, width=200))
    since = (live_org.org.clock.now() - timedelta(days=3)).date().isoformat()
    code, _, _ = run(capsys, "backfill", "--since", since)
    assert code == 0
    drawn = terminal.getvalue()
    assert "backfill windows" in drawn
    assert "read msf__Job_Application__c" in drawn
    assert "sent Contact" in drawn
