"""The daemon as an operator meets it: one instance per state, health and metrics, clean stop, crash-safe."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from werkzeug.test import Client

from connector.emulator.testing import RunningEmulator, running_emulator
from connector.entry.daemon import instance_lock
from connector.entry.health import HealthState, health_app
from connector.entry.metrics import Metrics
from connector.errors import FatalError
from connector.shell.cycle import CycleReport

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll a condition (not a timing guess): fail the test if it does not hold in time."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_second_daemon_on_the_same_state_is_refused_naming_the_pid(tmp_path: Path) -> None:
    with (
        instance_lock(tmp_path),
        pytest.raises(FatalError, match=f"PID {os.getpid()}"),
        instance_lock(tmp_path),
    ):
        pass
    with instance_lock(tmp_path):  # released: the next one gets it
        pass


def test_health_is_stale_until_a_cycle_succeeds_and_metrics_count_cycles() -> None:
    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    metrics, state = Metrics(), HealthState(stale_after=timedelta(minutes=6), logged_in=True)
    metrics.login("00DORG", 120)
    client = Client(health_app(state, metrics, lambda: now))
    assert client.get("/healthz").status_code == 503
    assert json.loads(client.get("/readyz").data)["reasons"] == ["stale: no successful cycle yet"]
    report = CycleReport("poll", events_added=7, succeeded=3)
    metrics.record(report, now - timedelta(minutes=1), 2.5)
    state.last_success_at, state.last_status = now - timedelta(minutes=1), report.status
    health = client.get("/healthz")
    assert health.status_code == 200
    assert json.loads(health.data)["last_cycle_status"] == "ok"
    text = client.get("/metrics").get_data(as_text=True)
    assert 'msr_engage_cycles_total{org="00DORG",status="ok"} 1.0' in text
    assert 'msr_engage_events_ingested_total{org="00DORG"} 7.0' in text
    assert 'msr_engage_cycle_duration_seconds_count{kind="poll",org="00DORG"} 1.0' in text
    assert 'msr_engage_ready{org="00DORG"} 1.0' in text  # the probe just answered 200
    state.last_success_at = now - timedelta(minutes=7)  # three polls of two minutes, and one more
    assert client.get("/readyz").status_code == 503
    assert client.get("/livez").status_code == 200  # stale is no reason to restart the process
    assert client.get("/nope").status_code == 404


@pytest.fixture
def live_org(tmp_path: Path) -> Iterator[RunningEmulator]:
    """An emulator on the real clock (the connector runs as a separate process), set 5 s behind.

    Windows end at whole seconds of `now - lag` (lag 0 here), so a record stamped in the current second
    waits for the next poll. Stamping the test's records in the past makes them due now, without sleeps.
    """
    with running_emulator(state_dir=tmp_path / "emulator") as em:
        em.org.advance(-5)
        yield em


def connector_env(tmp_path: Path, em: RunningEmulator, health_port: int = 0) -> dict[str, str]:
    """Environment for a connector subprocess: its config, state folder and secret."""
    config = tmp_path / "config.toml"
    config.write_text(
        EXAMPLE.read_text() + f'\n[salesforce]\nlogin_url = "{em.login_url}"\nauth = "client_credentials"\n'
        f'client_id = "{em.client_id}"\nca_bundle = "{em.ca_bundle}"\napi_version = "{em.api_version}"\n'
        "lag_seconds = 0\nlookback_seconds = 5\n"
        f"\n[sync]\npoll_interval_seconds = 10\nhealth_port = {health_port}\n"
    )
    env = dict(os.environ)
    env.update(
        MSR_ENGAGE_CONFIG=str(config),
        MSR_ENGAGE_HOME=str(tmp_path / "state"),
        MSR_ENGAGE_SALESFORCE__CLIENT_SECRET=em.client_secret,
    )
    return env


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "connector", *args]


def test_daemon_serves_health_refuses_a_twin_and_stops_cleanly_on_sigterm(
    tmp_path: Path, live_org: RunningEmulator
) -> None:
    port = free_port()
    env = connector_env(tmp_path, live_org, health_port=port)
    daemon = subprocess.Popen(cli("run"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:

        def healthy() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(healthy)
        twin = subprocess.run(cli("run"), env=env, capture_output=True, text=True, timeout=60, check=False)
        assert twin.returncode == 1
        assert f"PID {daemon.pid}" in twin.stderr
        # One writer per state folder: a sync beside the daemon is refused, naming it; reading answers.
        once = subprocess.run(cli("sync", "--once"), env=env, capture_output=True, text=True, timeout=60)
        assert once.returncode == 1
        assert once.stderr.splitlines()[-1:] == [
            f"error: another msr-engage process (PID {daemon.pid}) writes to {env['MSR_ENGAGE_HOME']}: stop"
            " it first (or let it finish), or give this one its own state folder (MSR_ENGAGE_HOME)"
        ]
        status = subprocess.run(cli("status"), env=env, capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stderr
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
        _, logs = daemon.communicate()
        assert "daemon_stopped" in logs
        assert live_org.client_secret not in logs
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()


def test_killed_mid_write_rerun_converges_without_duplicate_lines(
    tmp_path: Path, live_org: RunningEmulator
) -> None:
    org = live_org.org
    env = connector_env(tmp_path, live_org)
    rt = org.record_types["Candidate"]
    job = org.create("msf__Job__c", {"Name": "Developer"})
    people = [org.create("Contact", {"LastName": f"C{i}", "RecordTypeId": rt}) for i in range(3)]
    for person in people:
        org.apply(person, job, "Intake verwerkt")
    org.delay_next(1, 2.0, endpoint="collections_upsert")  # score lines in flight, contacts not yet written
    first = subprocess.Popen(cli("sync", "--once"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_until(lambda: org.call_counts().get("collections_upsert", 0) >= 1)
    first.kill()
    first.communicate()
    rerun = subprocess.run(
        cli("sync", "--once"), env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert rerun.returncode == 0, rerun.stderr
    wait_until(lambda: len(org.records("Lead_Score_Line__c")) >= 3)  # the killed run's late upsert lands too
    again = subprocess.run(
        cli("sync", "--once"), env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert again.returncode == 0, again.stderr
    lines = org.records("Lead_Score_Line__c")
    assert sorted(line["External_Id__c"] for line in lines) == sorted(f"{p}:intake" for p in people)
    for person in people:
        contact = org.record("Contact", person)
        assert contact is not None
        assert (contact["Lead_Score__c"], contact["Medal__c"]) == (30, "Bronze")


def test_pixel_rejections_reach_the_metrics_by_reason(tmp_path: Path) -> None:
    from collections import Counter
    from typing import cast

    from connector.config import Settings
    from connector.entry.daemon import Daemon
    from connector.ledger import Ledger
    from connector.sf.port import OrgPort
    from tests.pixel.helpers import LATER, hit, settings, write_hits

    folder = tmp_path / "pixel"
    folder.mkdir()
    write_hits(folder / "hits.ndjson", [hit(0, user_agent="Googlebot/2.1 (+http://www.google.com/bot.html)")])
    daemon = Daemon(
        Settings(pixel=settings(folder=folder)), lambda: Ledger(tmp_path / "l.db"), cast(OrgPort, None)
    )
    (files,) = daemon.service.other_sources()
    with Ledger(tmp_path / "l.db") as ledger:
        run = files.run(ledger, LATER)
    assert (run.read, run.added, run.rejected) == (1, 0, {"bot": 1})
    daemon.metrics.login("00DORG", 120)
    daemon.metrics.record(CycleReport("poll", rejected=Counter(run.rejected)), LATER, 0.1)
    text = (
        Client(health_app(daemon.health, daemon.metrics, lambda: LATER))
        .get("/metrics")
        .get_data(as_text=True)
    )
    assert 'msr_engage_pixel_lines_rejected_total{org="00DORG",reason="bot"} 1.0' in text


def test_backfill_reads_history_from_a_date_and_writes(tmp_path: Path, live_org: RunningEmulator) -> None:
    org = live_org.org
    rt = org.record_types["Candidate"]
    job = org.create("msf__Job__c", {"Name": "Developer"})
    person = org.create("Contact", {"LastName": "Old", "RecordTypeId": rt})
    org.apply(person, job, "Aangenomen")
    env = connector_env(tmp_path, live_org)
    since = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    done = subprocess.run(
        cli("backfill", "--since", since), env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: read contacts 1, applications 1")
    contact = org.record("Contact", person)
    assert contact is not None
    assert contact["Medal__c"] == "Gold"
    bad = subprocess.run(
        cli("backfill", "--since", "last week"),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert "--since: expected a date as YYYY-MM-DD, not 'last week'" in bad.stderr


def test_a_daemon_started_after_a_missed_nightly_pass_runs_it_first(tmp_path: Path) -> None:
    from datetime import UTC, datetime
    from typing import cast

    from connector.config import Settings
    from connector.entry.daemon import Daemon
    from connector.ledger import Ledger
    from connector.ledger.sync_state import finish_cycle, start_cycle
    from connector.sf.port import OrgPort
    from connector.shell.stages import CycleStatus

    evening = datetime(2026, 3, 2, 20, tzinfo=UTC)
    with Ledger(tmp_path / "l.db") as ledger:
        finish_cycle(ledger, start_cycle(ledger, "poll", evening), CycleStatus.OK, evening, {})

    def daemon_at(moment: datetime) -> Daemon:
        return Daemon(
            Settings(), lambda: Ledger(tmp_path / "l.db"), cast(OrgPort, None), clock=lambda: moment
        )

    assert not daemon_at(datetime(2026, 3, 2, 23, tzinfo=UTC)).missed_daily_pass()  # before 02:00 local
    assert daemon_at(datetime(2026, 3, 3, 9, tzinfo=UTC)).missed_daily_pass()
