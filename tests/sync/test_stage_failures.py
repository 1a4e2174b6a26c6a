"""Issue 10's stages that fail alone, end to end over HTTPS against the emulator: a pixel problem (a bad
file, a poisoned line, a provider outage or refusal) is skipped and shown, and the same cycle still
writes the org's new scores; the daemon keeps running; the next cycle reads on."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
from structlog.testing import capture_logs
from typer.testing import CliRunner
from werkzeug.test import Client

from connector.config import Settings
from connector.config.pixel import PixelApi
from connector.entry import bootstrap
from connector.entry.cli import app
from connector.entry.daemon import Daemon
from connector.entry.health import health_app
from connector.shell.cycle import CycleReport
from tests.pixel.helpers import POISON_IP, hit, poison_parsers, settings, token, write_hits

from .conftest import Org

API = PixelApi(url="https://pixel.example.com/v1/hits")


class Running:
    """A daemon over the emulated org (not scheduled: each cycle is run by the test) and its probes."""

    def __init__(self, org: Org, pixel_settings: Any) -> None:
        self.org = org
        full: Settings = org.settings.model_copy(update={"pixel": pixel_settings})
        self.daemon = Daemon(
            full, bootstrap.open_ledger, org.client, clock=org.em.org.clock.now, login=org.client.connect
        )
        self.daemon.health.stale_after = timedelta(hours=3)  # each cycle here lets an hour pass
        assert self.daemon.log_in()
        self.stops: list[object] = []
        self.daemon.scheduler.shutdown = lambda wait=True: self.stops.append(wait)  # type: ignore[method-assign]

    def cycle(self, after_seconds: float = 3600) -> CycleReport:
        """Let time pass on the org clock, then run the daemon's cycle; it must not stop the daemon."""
        self.org.em.org.advance(after_seconds)
        report = self.daemon.cycle()
        assert report is not None
        assert (self.daemon.failure, self.stops) == (None, [])  # the daemon keeps running
        return report

    def metrics(self) -> str:
        """The exposition with this org's label left out, so assertions read as before issue 17."""
        text = self.probe().get("/metrics").get_data(as_text=True)
        org = self.org.client.org_id
        assert org
        assert f'org="{org}"' in text
        return text.replace(f'{{org="{org}",', "{").replace(f'{{org="{org}"}}', "")

    def health(self) -> tuple[int, dict[str, Any]]:
        answer = self.probe().get("/healthz")
        return answer.status_code, json.loads(answer.data)

    def probe(self) -> Client:
        return Client(health_app(self.daemon.health, self.daemon.metrics, self.org.em.org.clock.now))


def status_output() -> str:
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    return result.stdout


def moved_to_intake(org: Org, name: str) -> str:
    """A candidate whose application a recruiter moved to 'Intake verwerkt' (worth 30 points, bronze)."""
    person = org.candidate(name)
    application = org.em.org.apply(person, org.job(), "Websollicitatie")
    org.em.org.move_application(application, "Intake verwerkt")
    return person


def scored(org: Org, contact_id: str) -> tuple[object, object]:
    contact = org.contact(contact_id)
    score = contact["Lead_Score__c"]
    return (None if score is None else int(score)), contact["Medal__c"]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    made = tmp_path / "pixel"
    made.mkdir()
    return made


def test_bad_files_and_a_poisoned_line_are_skipped_and_the_org_is_still_written(
    org: Org, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    poison_parsers(monkeypatch)  # a hit from POISON_IP makes the parser raise, as a parser bug would
    fan = org.candidate("Fan", consent=True)
    (folder / "hits-archive.ndjson").mkdir()  # a directory named like a hit file
    os.mkfifo(folder / "pipe.ndjson")  # would block a plain open() for ever
    (folder / "export.csv").write_text("time,url\n2026-03-02T09:00:00Z,/a\n")  # csv is not in formats
    log = write_hits(folder / "hits.ndjson", [
        hit(1, time=10**400),  # once an OverflowError inside the parser
        hit(2, url="https://www.example-agency.nl/\ud800"),  # once a Hit no encoder could store
        hit(3, ip=POISON_IP),
        hit(4, url=f"https://www.example-agency.nl/?mt={token(fan)}", visitor="v-fan"),
    ])  # fmt: skip
    running = Running(org, settings(folder=folder, formats=("ndjson",)))
    intake = moved_to_intake(org, "Intake")

    report = running.cycle()
    assert report.status == "ok"
    assert scored(org, intake) == (30, "Bronze")  # the org-side change is written in the same cycle
    assert [v["Contact__c"] for v in org.em.org.records("Website_Visit__c")] == [fan]  # after the poison
    assert sorted((f.reason.value, Path(f.part).name) for f in report.failures) == [
        ("parser_crash", "hits.ndjson"),
        ("unknown_format", "export.csv"),
        ("unreadable_file", "hits-archive.ndjson"),
        ("unreadable_file", "pipe.ndjson"),
    ]
    assert report.rejected == {"bad_time": 1, "malformed": 1, "parser_crash": 1}
    metrics = running.metrics()
    assert 'msr_engage_source_failures_total{reason="unreadable_file",source="pixel files"} 2.0' in metrics
    assert 'msr_engage_source_failures_total{reason="parser_crash",source="pixel files"} 1.0' in metrics
    assert 'msr_engage_pixel_lines_rejected_total{reason="parser_crash"} 1.0' in metrics
    code, health = running.health()
    assert (code, health["last_cycle_status"]) == (200, "ok")
    assert health["last_cycle_failures"]["pixel files: unreadable_file"] == 2
    shown = status_output()
    assert "pixel files: unreadable_file" in shown
    assert "pixel files: parser_crash" in shown

    # The next cycle reads the lines after the poisoned one, and not the poisoned one again.
    write_hits(log, [hit(90, visitor="v-fan"), hit(91, ip=POISON_IP)], mode="a")
    again = running.cycle()
    assert again.fetched["pixel files"] == 2
    assert again.rejected == {"parser_crash": 1}  # the new poisoned line only
    assert len(org.em.org.records("Website_Visit__c")) == 2


def test_a_provider_outage_then_a_refusal_skip_the_api_and_the_org_is_still_written(
    org: Org, folder: Path
) -> None:
    fan = org.candidate("Fan", consent=True)
    running = Running(org, settings(folder=folder, api=API))
    first = moved_to_intake(org, "First")
    # Every request goes to the emulator on 127.0.0.1 or is answered here: nothing else is reached.
    with responses.RequestsMock() as provider:
        provider.add_passthru(org.em.instance_url)
        provider.add_passthru(org.em.login_url)
        provider.get(API.url, status=503)
        with capture_logs() as logs:
            outage = running.cycle()
        assert (outage.status, scored(org, first)) == ("ok", (30, "Bronze"))
        assert [(f.source, f.reason.value) for f in outage.failures] == [("pixel api", "api_unavailable")]
        warned = [e for e in logs if e["log_level"] == "warning"]
        assert [(e["event"], e["reason"]) for e in warned] == [("source_failure", "api_unavailable")]
        (done,) = [e for e in logs if e["event"] == "cycle_done"]
        assert done["failures"] == {"pixel api: api_unavailable": 1}
        with running.daemon.service.open_ledger() as ledger:
            assert ledger.cursor("pixel.api") is None  # the cursor stays: asked again next cycle

        provider.replace(responses.GET, API.url, status=401)
        second = moved_to_intake(org, "Second")
        refused = running.cycle()
        assert (refused.status, scored(org, second)) == ("ok", (30, "Bronze"))
        assert [f.reason.value for f in refused.failures] == ["api_refused"]
        assert "HTTP 401: check [pixel.api] url and auth" in refused.failures[0].detail

        provider.replace(responses.GET, API.url, body="<html>maintenance</html>")
        assert [f.reason.value for f in running.cycle().failures] == ["api_garbage"]

        page = {"hits": [hit(1, url=f"/?mt={token(fan)}", visitor="v-fan")], "next_cursor": "c1"}
        provider.replace(responses.GET, API.url, json=page)
        provider.add(responses.GET, API.url, json={"hits": [], "next_cursor": None})
        back = running.cycle()
    assert (back.failures, back.fetched["pixel api"], back.web_writes) == ([], 1, 1)
    with running.daemon.service.open_ledger() as ledger:
        assert ledger.cursor("pixel.api") == "c1"
    metrics = running.metrics()
    for reason in ("api_unavailable", "api_refused", "api_garbage"):
        assert f'msr_engage_source_failures_total{{reason="{reason}",source="pixel api"}} 1.0' in metrics
    assert 'msr_engage_cycles_total{status="ok"} 4.0' in metrics
    shown = status_output()
    assert "pixel api: api_refused" in shown
    assert "pixel api: api_unavailable" in shown


def test_a_bug_in_a_pixel_source_skips_it_with_its_trace_and_the_org_is_still_written(
    org: Org, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connector.shell import pixel as pixel_shell

    def broken(*_args: object, **_kw: object) -> None:
        raise RuntimeError("a bug in the pixel shell")

    monkeypatch.setattr(pixel_shell, "ingest_files", broken)
    write_hits(folder / "hits.ndjson", [hit(1)])
    running = Running(org, settings(folder=folder))
    intake = moved_to_intake(org, "Intake")
    with capture_logs() as logs:
        report = running.cycle()
    assert (report.status, scored(org, intake)) == ("ok", (30, "Bronze"))
    (failure,) = report.failures
    assert (failure.reason.value, failure.detail) == ("stage_error", "RuntimeError: a bug in the pixel shell")
    (warned,) = [e for e in logs if e["event"] == "source_failure"]
    assert warned["exc_info"] is True  # the trace is logged for whoever fixes it


def test_a_ledger_of_another_org_still_stops_the_daemon(make_org: Any, folder: Path) -> None:
    first, second = make_org(), make_org()
    Running(first, settings(folder=folder)).cycle()
    other = Running(second, settings(folder=folder))  # the same state folder, so the same ledger
    second.em.org.advance(120)
    assert other.daemon.cycle() is None
    assert other.stops == [False]
    assert "belongs to org" in str(other.daemon.failure)
