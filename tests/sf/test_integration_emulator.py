"""Issue 4's acceptance list, against the local org emulator over HTTPS (no sleeps, a frozen org clock)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from pydantic import SecretStr
from structlog.testing import capture_logs

from connector.config.salesforce import SalesforceSettings
from connector.details import RecordWrite
from connector.emulator.testing import RunningEmulator, running_emulator
from connector.emulator.values import Clock
from connector.entry.cli import main
from connector.errors import ApiLimitError
from connector.sf import mapping
from connector.sf.client import SalesforceClient
from connector.sf.policy import RetryPolicy
from connector.sf.readers import Source, plan_window, read_window
from connector.sf.writer import apply_plan
from connector.sync.changes import detect_changes

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CONTACTS = Source("Contact", ("LastName", "Lead_Score__c"))
LOOKBACK, LAG = timedelta(seconds=600), timedelta(seconds=60)


@pytest.fixture
def em() -> Iterator[RunningEmulator]:
    """A fresh, empty emulator whose clock stands still unless a test advances it."""
    with running_emulator(clock=Clock(frozen_at=T0)) as running:
        yield running


@pytest.fixture
def settings(em: RunningEmulator) -> SalesforceSettings:
    """Client-credentials settings for the emulator, trusting only its CA."""
    return em.connector_settings()


@pytest.fixture
def sent() -> list[Any]:
    """JSON bodies of the PATCH requests the client sent (captured by a response hook)."""
    return []


@pytest.fixture
def waits() -> list[float]:
    """Backoff waits the retry policy asked for (recorded, never slept)."""
    return []


@pytest.fixture
def client(
    settings: SalesforceSettings, em: RunningEmulator, sent: list[Any], waits: list[float]
) -> SalesforceClient:
    """Our client on the emulator: retries record waits instead of sleeping; org time drives the breaker."""
    client = SalesforceClient(
        settings, sleep=waits.append, clock=em.org.clock.now, retry=RetryPolicy(attempts=6)
    )

    def capture(response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        if response.request.method == "PATCH" and response.request.body:
            sent.append(json.loads(response.request.body))

    client.session.hooks["response"].append(capture)
    return client


def make_contacts(em: RunningEmulator, n: int) -> list[str]:
    """`n` contacts created at the org's current time (so they tie on SystemModstamp)."""
    return [em.org.create("Contact", {"LastName": f"Candidate {i:05d}"}) for i in range(n)]


def write_config(em: RunningEmulator, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config.toml for the emulator; its secret goes where secrets belong, the environment."""
    config = folder / "config.toml"
    config.write_text(
        "[salesforce]\n"
        f'login_url = "{em.login_url}"\nauth = "client_credentials"\nclient_id = "{em.client_id}"\n'
        f'ca_bundle = "{em.ca_bundle}"\napi_version = "{em.api_version}"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("MSR_ENGAGE_SALESFORCE__CLIENT_SECRET", em.client_secret)
    return config


def test_a_5000_record_window_is_read_completely_across_pages(
    em: RunningEmulator, client: SalesforceClient
) -> None:
    ids = make_contacts(em, 5000)
    em.org.advance(120)
    em.org.reset_calls()
    window = plan_window(T0, em.org.clock.now(), lookback=LOOKBACK, lag=LAG)
    got = [r["Id"] for r in read_window(client, CONTACTS, window)]
    assert sorted(got) == sorted(ids)
    assert len(got) == 5000
    counts = em.org.call_counts()
    assert counts.get("queryAll") == 1
    assert counts.get("query_more") == 2  # 2,000 + 2,000 + 1,000


def test_a_late_committed_record_is_read_by_the_lookback_and_only_once(
    em: RunningEmulator, client: SalesforceClient
) -> None:
    em.org.set_commit_lag(120)  # the record shows in queries 2 minutes after its SystemModstamp
    (late,) = make_contacts(em, 1)
    em.org.advance(90)
    first = plan_window(T0 - timedelta(hours=1), em.org.clock.now(), lookback=LOOKBACK, lag=LAG)
    assert first.start <= T0 < first.end
    assert list(read_window(client, CONTACTS, first)) == []  # not visible yet
    em.org.advance(110)
    second = plan_window(first.end, em.org.clock.now(), lookback=LOOKBACK, lag=LAG)
    assert first.end > T0  # the record's SystemModstamp is before the cursor ...
    records = list(read_window(client, CONTACTS, second))
    assert [r["Id"] for r in records] == [late]  # ... and the lookback still reads it
    changes = detect_changes(records, {}, CONTACTS.fields)
    assert len(changes.changed) == 1
    em.org.advance(60)
    third = plan_window(second.end, em.org.clock.now(), lookback=LOOKBACK, lag=LAG)
    again = list(read_window(client, CONTACTS, third))
    assert [r["Id"] for r in again] == [late]  # overlapping window re-reads it
    assert detect_changes(again, changes.hashes, CONTACTS.fields).changed == []  # no second event


def test_450_contact_updates_cost_3_calls_and_an_empty_plan_none(
    em: RunningEmulator, client: SalesforceClient
) -> None:
    ids = make_contacts(em, 450)
    em.org.reset_calls()
    plan = [
        RecordWrite("Contact", "Id", i, {"Lead_Score__c": 40, "Lead_Score_Band__c": "Lukewarm"}) for i in ids
    ]
    result = apply_plan(client, plan, pause=lambda _s: None)
    assert len(result.succeeded) == 450
    assert em.org.call_counts().get("collections_update") == 3
    assert {r["Lead_Score__c"] for r in em.org.records("Contact")} == {40}
    em.org.reset_calls()
    assert apply_plan(client, []).calls == 0
    assert em.org.call_counts() == {}


def test_a_5000_record_plan_goes_through_bulk_2(em: RunningEmulator, client: SalesforceClient) -> None:
    ids = make_contacts(em, 5000)
    em.org.reset_calls()
    plan = [RecordWrite("Contact", "Id", i, {"Lead_Score__c": 7, "Medal__c": None}) for i in ids]
    result = apply_plan(client, plan, bulk_threshold=client.settings.bulk_threshold, pause=lambda _s: None)
    counts = em.org.call_counts()
    assert counts.get("bulk_create_job") == 1
    assert counts.get("collections_update", 0) == 0
    assert len(result.succeeded) == 5000
    assert {r["Lead_Score__c"] for r in em.org.records("Contact")} == {7}


def test_one_locked_record_of_200_is_the_only_one_retried(
    em: RunningEmulator, client: SalesforceClient, sent: list[Any]
) -> None:
    ids = make_contacts(em, 200)
    em.org.lock_rows(count=1)  # the next record write fails with UNABLE_TO_LOCK_ROW
    plan = [RecordWrite("Contact", "Id", i, {"Lead_Score__c": 12}) for i in ids]
    result = apply_plan(client, plan, pause=lambda _s: None)
    assert [len(body["records"]) for body in sent] == [200, 1]
    assert sent[1]["records"][0]["Id"] == ids[0]
    assert len(result.succeeded) == 200
    assert result.failed == ()
    assert result.retriable == ()


def test_a_permanently_rejected_record_is_dead_lettered_and_the_rest_succeed(
    em: RunningEmulator, client: SalesforceClient
) -> None:
    ids = make_contacts(em, 200)
    em.org.faults.reject_records({ids[5]}, "Candidate is blocked for automated updates")
    plan = [RecordWrite("Contact", "Id", i, {"Lead_Score_Band__c": "Warm"}) for i in ids]
    result = apply_plan(client, plan, pause=lambda _s: None)
    assert len(result.succeeded) == 199
    assert [(f.write.key_value, f.error_code, f.message) for f in result.failed] == [
        (ids[5], "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Candidate is blocked for automated updates")
    ]
    assert result.calls == 1  # permanent: not retried
    assert result.retriable == ()


def test_a_value_outside_a_restricted_picklist_is_refused_per_record(
    em: RunningEmulator, client: SalesforceClient
) -> None:
    ids = make_contacts(em, 3)
    plan = [RecordWrite("Contact", "Id", i, {"Lead_Score_Band__c": "Warm"}) for i in ids]
    plan[1] = RecordWrite("Contact", "Id", ids[1], {"Lead_Score_Band__c": "Scorching"})
    result = apply_plan(client, plan, pause=lambda _s: None)
    assert [(f.write.key_value, f.error_code) for f in result.failed] == [
        (ids[1], "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST")
    ]
    assert len(result.succeeded) == 2


def test_a_503_burst_is_ridden_out(em: RunningEmulator, client: SalesforceClient, waits: list[float]) -> None:
    make_contacts(em, 3)
    em.org.advance(120)
    client.connect()
    em.org.fail_next(4, 503)
    window = plan_window(T0, em.org.clock.now(), lookback=LOOKBACK, lag=LAG)
    assert len(list(read_window(client, CONTACTS, window))) == 3
    assert len(waits) == 4
    assert em.org.call_counts()["queryAll"] == 5


def test_child_records_are_upserted_by_external_id_and_a_rerun_changes_nothing(
    em: RunningEmulator, client: SalesforceClient
) -> None:
    contacts = make_contacts(em, 3)
    plan = [
        RecordWrite(
            "Website_Visit__c",
            "External_Id__c",
            f"visit-{n}",
            {"Contact__c": contact, "Pages__c": 2, "Visited_At__c": T0},
            parent=contact,
        )
        for n, contact in enumerate(contacts)
    ]
    assert len(apply_plan(client, plan).succeeded) == 3
    assert len(apply_plan(client, plan).succeeded) == 3  # absolute values: sending twice is harmless
    visits = em.org.records("Website_Visit__c")
    assert sorted(v["External_Id__c"] for v in visits) == ["visit-0", "visit-1", "visit-2"]
    assert em.org.call_counts()["collections_upsert"] == 2


def test_token_expiry_mid_paging_reauthenticates_once_and_the_read_completes(
    em: RunningEmulator, client: SalesforceClient
) -> None:
    make_contacts(em, 5000)
    em.org.advance(120)
    client.connect()
    em.org.expire_tokens_after(1)  # the first page succeeds, the session dies before the second
    window = plan_window(T0, em.org.clock.now(), lookback=LOOKBACK, lag=LAG)
    with capture_logs() as logs:
        got = list(read_window(client, CONTACTS, window))
    assert len({r["Id"] for r in got}) == 5000
    assert client.logins == 2
    assert [e["event"] for e in logs].count("sf_reauthenticate") == 1


def test_request_limit_exceeded_opens_the_breaker_and_skips_the_next_cycle(
    em: RunningEmulator, client: SalesforceClient
) -> None:
    em.org.set_api_limit(1000, used=1000)
    with pytest.raises(ApiLimitError):
        client.limits()
    reopen = T0 + timedelta(seconds=client.settings.breaker_cooldown_seconds)
    assert client.breaker.open_until == reopen
    calls = sum(em.org.call_counts().values())
    with capture_logs() as logs, pytest.raises(ApiLimitError):
        client.start_cycle()
    assert sum(em.org.call_counts().values()) == calls
    assert logs == [
        {
            "event": "sf_cycle_skipped",
            "log_level": "warning",
            "reason": "api_limit_breaker_open",
            "retry_at": reopen,
        }
    ]


def test_check_passes_on_the_default_org(client: SalesforceClient, settings: SalesforceSettings) -> None:
    rows = mapping.check(client, settings.objects)
    assert [r for r in rows if not r.ok] == []


def test_check_fails_clearly_when_a_mapped_field_is_missing(
    em: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(em, tmp_path, monkeypatch)
    with pytest.raises(SystemExit) as passed:
        main(["check", "--config", str(config)])
    assert passed.value.code in (0, None)
    em.org.schema["Contact"].fields.pop("Medal__c")
    with pytest.raises(SystemExit) as failed:
        main(["check", "--config", str(config)])
    assert failed.value.code == 1
    lines = [line for line in capsys.readouterr().out.splitlines() if "FAIL" in line]
    assert len(lines) == 1
    assert "salesforce.objects.contact.medal" in lines[0]
    assert "Medal__c not found" in lines[0]


def test_check_fails_on_a_source_field_hidden_from_the_integration_user_and_warns_on_untracked_steps(
    em: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(em, tmp_path, monkeypatch)
    em.org.set_tracked("msf__Job_Application__c", "msf__Step__c", False)
    with pytest.raises(SystemExit) as warned:
        main(["check", "--config", str(config)])
    assert warned.value.code in (0, None)  # a warning passes
    rows = capsys.readouterr().out.splitlines()
    assert [line for line in rows if "WARN" in line or "FAIL" in line] == [
        line for line in rows if "sync.step_history" in line
    ]
    assert any("WARN" in line for line in rows)
    em.org.access.hide("Event", "StartDateTime")  # field-level security on what the sources read
    with pytest.raises(SystemExit) as failed:
        main(["check", "--config", str(config)])
    assert failed.value.code == 1
    lines = [line for line in capsys.readouterr().out.splitlines() if "FAIL" in line]
    assert len(lines) == 1
    assert "Event.StartDateTime" in lines[0]


@pytest.mark.parametrize("mode", ["jwt", "client_credentials", "refresh_token"])
def test_every_auth_mode_logs_in_to_the_emulator(em: RunningEmulator, mode: str) -> None:
    params: dict[str, Any] = {
        "jwt": {"username": em.username, "private_key_file": em.jwt_private_key},
        "client_credentials": {"client_secret": SecretStr(em.client_secret)},
        "refresh_token": {"refresh_token": SecretStr(em.org.settings.refresh_token)},
    }[mode]
    settings = SalesforceSettings(
        login_url=em.login_url,
        environment="sandbox",  # the emulator's org: JWT's audience is https://test.salesforce.com
        auth=mode,  # type: ignore[arg-type]  # parametrised over the Literal's values
        client_id=em.client_id,
        ca_bundle=em.ca_bundle,
        api_version=em.api_version,
        **params,
    )
    client = SalesforceClient(settings, clock=em.org.clock.now)
    assert "DailyApiRequests" in client.limits()
    assert client.logins == 1


def test_discover_prints_the_default_mapping_for_the_default_org(
    em: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(em, tmp_path, monkeypatch)
    with pytest.raises(SystemExit) as done:
        main(["discover", "--config", str(config)])
    assert done.value.code in (0, None)
    out = capsys.readouterr().out
    assert '[salesforce.objects.website_visit]\nobject = "Website_Visit__c"' in out
    assert "NOT FOUND" not in out
