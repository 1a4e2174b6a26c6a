"""The standalone emulator: `msr-engage emulator serve`, its written config, persistence, the demo seed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import requests

from connector.config import load_settings
from connector.emulator.org import Emulator
from connector.emulator.standalone import scoring_part
from connector.emulator.testing import running_emulator
from connector.emulator.values import Clock


def _serve(*args: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector", "emulator", "serve", "--print-json", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    if not first:
        _, errors = proc.communicate(timeout=10)
        raise AssertionError(f"emulator did not start: {errors}")
    return proc, json.loads(first)


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=10)  # also closes the pipes
    return proc.returncode


def _session(info: dict[str, str]) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = info["ca_bundle"]
    return session


def _token(session: requests.Session, info: dict[str, str]) -> str:
    response = session.post(
        info["login_url"] + "/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": info["client_id"],
            "client_secret": info["client_secret"],
        },
        timeout=5,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def test_serve_prints_json_writes_a_working_config_and_keeps_its_org_across_restarts(tmp_path: Path) -> None:
    config, state = tmp_path / "config.toml", tmp_path / "org.json"
    proc, info = _serve("--seed", "empty", "--state", str(state), "--write-config", str(config))
    try:
        assert set(info) >= {"login_url", "instance_url", "ca_bundle", "client_id", "client_secret"}
        settings = load_settings(config).salesforce
        assert settings is not None
        assert settings.login_url == info["login_url"]
        assert settings.auth == "client_credentials"
        assert settings.client_secret is not None
        assert settings.client_secret.get_secret_value() == info["client_secret"]
        assert info["client_secret"] not in config.read_text()
        session = _session(info)
        headers = {"Authorization": "Bearer " + _token(session, info)}
        created = session.post(
            info["instance_url"] + "/services/data/v59.0/sobjects/Contact",
            json={"LastName": "Kept"},
            headers=headers,
        )
        assert created.status_code == 201
    finally:
        assert _stop(proc) == 0
    assert state.exists()
    proc, again = _serve("--state", str(state))
    try:
        assert again["instance_url"] == info["instance_url"]
        assert again["client_secret"] == info["client_secret"]
        session = _session(again)
        headers = {"Authorization": "Bearer " + _token(session, again)}
        found = session.get(
            again["instance_url"] + "/services/data/v59.0/query",
            params={"q": "SELECT LastName FROM Contact"},
            headers=headers,
        ).json()
        assert [r["LastName"] for r in found["records"]] == ["Kept"]
    finally:
        assert _stop(proc) == 0


def test_scoring_part_drops_salesforce_tables(tmp_path: Path) -> None:
    example = tmp_path / "example.toml"
    example.write_text(
        '[scoring]\nfloor = 0\n[salesforce]\nlogin_url = "x"\n'
        "[salesforce.objects]\na = 1\n[medals]\nbronze = []\n"
    )
    assert scoring_part(example) == "[scoring]\nfloor = 0\n[medals]\nbronze = []\n"
    assert scoring_part(tmp_path / "missing.toml") == ""


def test_two_emulators_started_side_by_side_are_two_orgs() -> None:
    first, first_info = _serve("--port", "0", "--seed", "empty")
    try:
        second, second_info = _serve("--port", "0", "--seed", "empty")
        try:
            ids = first_info["org_id"], second_info["org_id"]
        finally:
            assert _stop(second) == 0
    finally:
        assert _stop(first) == 0
    assert all(len(org_id) == 18 and org_id.startswith("00D") for org_id in ids)
    # A random pod (62 x 62) and organization number (62^6): the same org about once in 2e14 pairs.
    assert ids[0] != ids[1]


def test_without_a_checkout_the_written_config_takes_the_packaged_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connector.emulator import standalone

    monkeypatch.setattr(standalone, "CHECKOUT_EXAMPLE", tmp_path / "no-checkout" / "config.example.toml")
    assert standalone.example_config() == standalone.PACKAGED_EXAMPLE
    assert "[[scoring.rules]]" in scoring_part()  # a wheel install writes a config that scores


def test_state_file_round_trips_records_history_and_timestamps(tmp_path: Path) -> None:
    state = tmp_path / "org.json"
    with running_emulator(state_file=state) as em:
        cid = em.org.create("Contact", {"LastName": "P", "Date_First_Placement__c": "2026-01-02"})
        em.org.update("Contact", cid, {"Tracking_Consent__c": True})
        before = em.org.record("Contact", cid)
        secret = em.client_secret
    with running_emulator(state_file=state) as em:
        assert em.org.record("Contact", cid) == before
        assert em.client_secret == secret
        assert len(em.org.records("ContactHistory")) == 2
        assert em.org.create("Contact", {"LastName": "Q"}) != cid


def test_demo_seed_is_an_msr_shaped_org_with_a_past() -> None:
    clock = Clock()
    org = Emulator(clock=clock)
    counts = org.seed("demo")
    assert counts["msf__Job__c"] == 40
    assert 500 <= counts["Contact"] <= 560
    contacts = org.records("Contact")
    kinds = Counter(r["RecordTypeId"] for r in contacts)
    assert kinds[org.record_types["Candidate"]] == 500
    assert 0.7 < sum(r["Tracking_Consent__c"] for r in contacts) / len(contacts) < 0.95
    steps = Counter(r["msf__Step__c"] for r in org.records("msf__Job_Application__c"))
    for step in ("Match", "Websollicitatie", "Intake verwerkt", "Voorgesteld", "Aangenomen", "Afgewezen"):
        assert steps[step] > 0, step
    emails = org.records("EmailMessage")
    assert any(e["FirstOpenedDate"] for e in emails)
    assert any(e["FirstLinkClickedDate"] for e in emails)
    assert any(e["HasReply"] for e in emails)
    assert counts["Event"] > 0
    now = clock.now()
    assert all(r["SystemModstamp"] < now for r in contacts)
    assert (
        min(r["CreatedDate"] for r in org.records("msf__Job_Application__c")).timestamp()
        < now.timestamp() - 60 * 86400
    )
    twin = Emulator(clock=clock)
    twin.seed("demo")
    assert [r["LastName"] for r in twin.records("Contact")] == [r["LastName"] for r in contacts]
