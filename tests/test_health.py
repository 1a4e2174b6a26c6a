"""The health server as a kubelet meets it: threaded, slow clients dropped, no log line per probe."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from connector.entry.health import HealthState, QuietHandler, health_app, serve
from connector.entry.metrics import Metrics
from connector.log import configure_logging

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[tuple[str, HealthState]]:
    state = HealthState(stale_after=timedelta(minutes=6), logged_in=True, last_success_at=NOW)
    metrics = Metrics()
    metrics.login("00DORG", 120)
    running = serve("127.0.0.1", 0, health_app(state, metrics, lambda: NOW))
    try:
        yield f"http://127.0.0.1:{running.server_port}", state
    finally:
        running.shutdown()
        running.server_close()


def test_a_half_open_connection_does_not_block_livez_and_probes_leave_no_log_line(
    server: tuple[str, HealthState],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, _ = server
    # Dropped after 2 s (3 s in production): a server that waited for it would miss the 1 s probes.
    monkeypatch.setattr(QuietHandler, "timeout", 2.0)
    configure_logging(json=True)
    # Even with werkzeug's own logger at INFO, where its access log would show: the handler is quiet.
    caplog.set_level(logging.INFO, logger="werkzeug")
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as stuck:
        stuck.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n")  # no blank line: the request never ends
        with requests.Session() as probe:
            for path in ("/livez", "/readyz", "/healthz", "/metrics"):
                answer = probe.get(url + path, timeout=1.0)  # a second probe, within the kubelet's 1 s
                assert answer.status_code == 200, path
        # The server drops the stuck client after its timeout: the socket sees the close (EOF);
        # the read timeout here only bounds a failing test.
        stuck.settimeout(10)
        assert stuck.recv(1024) == b""
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")  # no access log line, neither through structlog nor werkzeug
    assert [r for r in caplog.records if r.name.startswith("werkzeug")] == []


def test_with_the_breaker_open_the_process_is_alive_and_not_ready_saying_until_when(
    server: tuple[str, HealthState],
) -> None:
    url, state = server
    reopens = NOW + timedelta(minutes=50)
    state.breaker_open_until = lambda: reopens
    assert requests.get(url + "/livez", timeout=2).status_code == 200
    ready = requests.get(url + "/readyz", timeout=2)
    assert ready.status_code == 503
    assert ready.json()["reasons"] == [f"breaker open until {reopens.isoformat()} (REQUEST_LIMIT_EXCEEDED)"]
    detail = requests.get(url + "/healthz", timeout=2)
    assert detail.status_code == 503
    assert detail.json()["breaker_open_until"] == reopens.isoformat()
    metrics = requests.get(url + "/metrics", timeout=2).text
    assert 'msr_engage_ready{org="00DORG"} 0.0' in metrics


def test_each_reason_not_to_be_ready_is_named_and_the_pixel_only_degrades() -> None:
    state = HealthState(
        stale_after=timedelta(minutes=6), login_problem="cannot reach https://x: ConnectError"
    )
    assert state.not_ready(NOW) == [
        "not logged in: cannot reach https://x: ConnectError",
        "stale: no successful cycle yet",
    ]
    state.logged_in, state.last_success_at = True, NOW - timedelta(minutes=2)
    state.held_back = "rules changed (intake): 80 contacts (40%) would change"
    state.last_failures = {"pixel api: api_unavailable": 1}
    assert state.not_ready(NOW) == ["rail: rules changed (intake): 80 contacts (40%) would change"]
    state.held_back = ""
    detail = state.detail(NOW)
    assert (detail["status"], detail["degraded"]) == (
        "ready",
        ["pixel api: api_unavailable in the last cycle"],
    )
    assert json.dumps(detail)  # plain JSON
    state.alive = lambda: False
    from werkzeug.test import Client

    assert Client(health_app(state, Metrics(), lambda: NOW)).get("/livez").status_code == 503


def test_library_lines_are_json_with_the_org_and_cycle_bound(capfd: pytest.CaptureFixture[str]) -> None:
    import structlog

    configure_logging(json=True)
    with structlog.contextvars.bound_contextvars(org_id="00DORG", cycle_id=7):
        logging.getLogger("apscheduler.scheduler").warning("Run time of job %s was missed", "poll")
        logging.getLogger("apscheduler.scheduler").info("Added job %s", "poll")  # below its floor
    (line,) = capfd.readouterr().err.splitlines()
    assert json.loads(line) | {"timestamp": "t"} == {
        "event": "Run time of job poll was missed", "logger": "apscheduler.scheduler", "level": "warning",
        "org_id": "00DORG", "cycle_id": 7, "timestamp": "t",
    }  # fmt: skip


def test_a_cycle_running_longer_than_hung_after_fails_livez_until_it_ends() -> None:
    from typing import cast

    from werkzeug.test import Client

    from connector.config import Settings
    from connector.config.sync import SyncSettings
    from connector.entry.daemon import Daemon
    from connector.ledger import Ledger
    from connector.sf.port import OrgPort
    from connector.shell.service import CycleOutcome

    clock = [NOW]
    settings = Settings(sync=SyncSettings(hung_after_seconds=1800))
    daemon = Daemon(settings, lambda: Ledger(":memory:"), cast(OrgPort, None), clock=lambda: clock[0])
    probe = Client(health_app(daemon.health, daemon.metrics, lambda: clock[0]))
    seen: list[tuple[int, str]] = []

    def stuck(kind: str, now: datetime, **_: object) -> CycleOutcome:
        for minutes in (29, 31):  # the probe while the cycle still runs, half an hour on
            clock[0] = now + timedelta(minutes=minutes)
            answer = probe.get("/livez")
            seen.append((answer.status_code, answer.json["status"]))  # type: ignore[index]
        raise RuntimeError("the org call never came back")

    daemon.service.cycle = stuck  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        daemon.cycle()
    assert seen == [
        (200, "alive"),
        (503, f"hung: a cycle running since {NOW.isoformat()} (31 min)"),
    ]
    assert probe.get("/livez").status_code == 200  # the cycle ended (here by raising): alive again
