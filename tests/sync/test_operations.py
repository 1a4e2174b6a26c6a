"""Issue 17 end to end over HTTPS against the emulator: after real cycles, /metrics carries every
metric the alert rules and the dashboard name, labelled with the org; the event-to-org latency has
one observation per written activity; the breaker makes the daemon unready, not dead; and `run`
started before the org is reachable logs in once it is, without a restart."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import Client

from connector.config import load_settings
from connector.config.sync import SyncSettings
from connector.emulator.server import EmulatorServer
from connector.emulator.testing import running_emulator
from connector.entry import bootstrap
from connector.entry.daemon import Daemon
from connector.entry.health import health_app
from connector.errors import TransientError
from connector.ledger import Ledger
from connector.log import configure_logging
from connector.sf.client import SalesforceClient
from connector.sf.port import OrgPort
from tests.pixel.helpers import hit, write_hits
from tests.pixel.helpers import settings as pixel_settings
from tests.test_deploy import named_metrics

from .conftest import EXAMPLE, Org


def daemon_for(org: Org, pixel: Any = None) -> Daemon:
    full = org.settings.model_copy(update={"pixel": pixel})
    daemon = Daemon(full, bootstrap.open_ledger, org.client, clock=org.em.org.clock.now,
                    login=org.client.connect)  # fmt: skip
    assert daemon.log_in()
    return daemon


def samples(daemon: Daemon) -> list[Any]:
    text = (
        Client(health_app(daemon.health, daemon.metrics, daemon.clock)).get("/metrics").get_data(as_text=True)
    )
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def moved(org: Org, name: str, step: str = "Intake verwerkt") -> str:
    person = org.candidate(name)
    application = org.em.org.apply(person, org.job(), "Websollicitatie")
    org.em.org.move_application(application, step)
    return person


def activities(org: Org) -> int:
    with Ledger(bootstrap.open_ledger().path) as ledger:
        return int(
            ledger.db.execute("SELECT count(*) FROM events WHERE kind NOT LIKE 'contact.%'").fetchone()[0]
        )


def test_after_cycles_metrics_carry_every_named_metric_with_the_org_and_one_latency_per_activity(
    org: Org, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "pixel"
    folder.mkdir()
    (folder / "archive.ndjson").mkdir()  # skipped: a pixel source failure
    write_hits(folder / "hits.ndjson", [hit(0, user_agent="Googlebot/2.1 (+http://www.google.com/bot.html)")])
    daemon = daemon_for(org, pixel_settings(folder=folder))
    for name in ("Ada", "Bo", "Cas"):
        moved(org, name)
    org.em.org.advance(120)
    configure_logging(json=True)
    capfd.readouterr()
    first = daemon.cycle()
    logs = [json.loads(line) for line in capfd.readouterr().err.splitlines()]  # every line is JSON
    assert first is not None
    assert first.status == "ok"
    written = activities(org)
    assert written >= 3  # the applications' steps (and whatever else the org recorded)
    org.em.org.advance(120)
    assert daemon.cycle() is not None  # nothing new: no observation more
    org.em.org.advance(24 * 3600)
    assert daemon.cycle("daily") is not None
    org_id = org.client.org_id
    assert org_id.startswith("00D")
    found = samples(daemon)
    exported = {s.name for s in found}
    assert named_metrics() <= exported, named_metrics() - exported
    assert all(s.labels.get("org") == org_id for s in found if s.name.startswith("msr_engage_"))
    value = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in found}

    def one(name: str, **labels: str) -> float:
        return value[(name, tuple(sorted({"org": org_id, **labels}.items())))]

    assert one("msr_engage_event_to_org_latency_seconds_count") == written
    lag = org.settings.salesforce.lag_seconds  # type: ignore[union-attr]
    assert one("msr_engage_event_to_org_latency_seconds_sum") >= written * lag  # read after the lag at least
    assert one("msr_engage_cursor_lag_seconds", source="applications") == lag  # windows end at now - lag
    assert one("msr_engage_cycle_duration_seconds_count", kind="poll") == 2
    assert one("msr_engage_cycle_duration_seconds_count", kind="daily") == 1
    bands = {dict(labels)["band"]: v for (n, labels), v in value.items() if n == "msr_engage_contacts"}
    with Ledger(bootstrap.open_ledger().path) as ledger:
        stored = dict(ledger.db.execute("SELECT band, count(*) FROM contact_state GROUP BY band").fetchall())
    assert bands == stored
    assert sum(bands.values()) == 3
    assert one("msr_engage_api_calls_total", kind="rest_query") > 0
    assert one("msr_engage_api_calls_total", kind="rest_write") > 0
    assert one("msr_engage_api_calls_total", kind="bulk") == 0
    assert one("msr_engage_last_nightly_pass_timestamp_seconds") == daemon.clock().timestamp()
    assert (one("msr_engage_breaker_open"), one("msr_engage_dead_letters_pending")) == (0, 0)
    used, total = one("msr_engage_api_requests_used"), one("msr_engage_api_requests_max")
    assert one("msr_engage_api_requests_remaining") == total - used > 0
    cycle_lines = [line for line in logs if line.get("cycle_id") is not None]
    assert cycle_lines
    assert {line["org_id"] for line in cycle_lines} == {org_id}  # every line of the cycle names the org


def test_with_the_breaker_open_the_daemon_is_alive_and_not_ready_until_it_reopens(org: Org) -> None:
    daemon = daemon_for(org)
    org.em.org.advance(120)
    assert daemon.cycle() is not None  # a successful cycle: not stale
    moved(org, "Ada")
    org.em.org.fail_next(1, 403)  # REQUEST_LIMIT_EXCEEDED
    org.em.org.advance(120)
    report = daemon.cycle()
    assert report is not None
    assert report.status == "stopped"
    until = org.client.breaker.open_until
    assert until is not None
    probe = Client(health_app(daemon.health, daemon.metrics, daemon.clock))
    assert probe.get("/livez").status_code == 200
    ready = probe.get("/readyz")
    assert ready.status_code == 503
    assert ready.json["reasons"] == [f"breaker open until {until.isoformat()} (REQUEST_LIMIT_EXCEEDED)"]
    found = {s.name: s.value for s in samples(daemon)}
    assert (found["msr_engage_breaker_open"], found["msr_engage_breaker_open_until_timestamp_seconds"]) == (
        1,
        until.timestamp(),
    )
    org.em.org.advance((until - daemon.clock()).total_seconds() + 1)
    assert daemon.cycle() is not None
    assert probe.get("/readyz").status_code == 200


def test_run_started_before_the_org_is_up_logs_in_once_it_is_without_a_restart(tmp_path: Path) -> None:
    with running_emulator(state_dir=tmp_path / "em") as em:
        port = em.server.port
        em.server.stop()  # the org is down when the daemon starts
        settings = load_settings(EXAMPLE).model_copy(
            update={"salesforce": em.connector_settings(), "sync": SyncSettings(health_port=0)}
        )
        assert settings.salesforce is not None
        client = SalesforceClient(settings.salesforce, sleep=lambda _: None)
        waits: list[float] = []
        seen: list[list[str]] = []
        started: list[EmulatorServer] = []
        daemon: Daemon

        def wait(seconds: float) -> bool:
            """The daemon's pause between logins: the second one ends with the org coming up."""
            waits.append(seconds)
            seen.append(daemon.health.not_ready(daemon.clock()))
            assert daemon.health.alive()  # waiting for the org is alive: no liveness restart
            if len(waits) == 2:
                server = EmulatorServer(em.org, em.server.state_dir, port=port)
                server.jwt_key_path = em.server.jwt_key_path
                server.start()
                started.append(server)
            return False

        daemon = Daemon(settings, bootstrap.open_ledger, client, login=client.connect, wait=wait)
        reports: list[Any] = []
        cycle: Callable[..., Any] = daemon.cycle

        def one_cycle(kind: str = "poll") -> None:
            assert daemon.health.alive()  # the scheduler runs
            reports.append(cycle(kind))
            daemon.scheduler.shutdown(wait=False)  # as SIGTERM would, after the first cycle

        daemon.cycle = one_cycle  # type: ignore[method-assign]
        handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            daemon.run()
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            for server in started:
                server.stop()
    assert waits == [2.0, 4.0]  # backoff
    assert all(reasons[0].startswith("not logged in: cannot reach") for reasons in seen)
    assert "next try at" in seen[0][0]
    assert client.logins == 1
    assert [r.status for r in reports] == ["ok"]
    assert daemon.health.logged_in
    assert daemon.failure is None
    assert not daemon.health.alive()  # stopped: /livez says so
    assert timedelta(0) <= daemon.clock() - daemon.health.last_success_at  # type: ignore[operator]


def test_sigterm_while_waiting_for_the_org_stops_the_daemon_at_once(tmp_path: Path) -> None:
    settings = load_settings(EXAMPLE).model_copy(update={"sync": SyncSettings(health_port=0)})
    calls: list[float] = []

    def unreachable() -> None:
        raise TransientError("cannot reach https://127.0.0.1:9: ConnectionError")

    def wait(seconds: float) -> bool:
        calls.append(seconds)
        os.kill(os.getpid(), signal.SIGTERM)  # as `docker stop` while the daemon waits for the org
        raise AssertionError("the signal handler ends the wait")

    daemon = Daemon(settings, bootstrap.open_ledger, cast(OrgPort, None), login=unreachable, wait=wait)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        daemon.run()  # returns: no exception, no scheduler started
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert calls == [2.0]
    assert daemon.stopping.is_set()
    assert not daemon.scheduler.running
