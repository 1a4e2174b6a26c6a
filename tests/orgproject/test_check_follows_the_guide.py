"""`msr-engage check` against the emulator: the integration user, field-level access, the checklist."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.config.salesforce import ObjectMapping
from connector.emulator.testing import RunningEmulator
from connector.entry.cli import main
from connector.sf import connect
from connector.sf.mapping import CheckRow
from connector.sf.org_check import CHECKLIST, run_org_check


def _config(em: RunningEmulator, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = folder / "config.toml"
    config.write_text(
        "[salesforce]\n"
        f'login_url = "{em.login_url}"\nauth = "client_credentials"\nclient_id = "{em.client_id}"\n'
        f'ca_bundle = "{em.ca_bundle}"\napi_version = "{em.api_version}"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("MSR_ENGAGE_SALESFORCE__CLIENT_SECRET", em.client_secret)
    return config


def _check(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    with pytest.raises(SystemExit) as exited:
        main(["check", "--config", str(config)])
    return int(exited.value.code or 0), capsys.readouterr().out.splitlines()


def _rows(em: RunningEmulator) -> dict[str, CheckRow]:
    rows = run_org_check(lambda: connect(em.connector_settings()), ObjectMapping(), 0.8)
    return {row.item: row for row in rows}


def _checklist(lines: list[str]) -> dict[str, str]:
    marks = {}
    for line, _decides in CHECKLIST:
        found = [text for text in lines if line[:40] in text]
        assert len(found) == 1, line
        marks[line] = found[0].split()[1]  # │ passed │ ...
    return marks


def test_check_passes_against_the_emulator_and_ends_with_the_checklist(
    emulator: RunningEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, lines = _check(_config(emulator, tmp_path, monkeypatch), capsys)
    assert code == 0
    assert set(_checklist(lines).values()) == {"passed"}
    assert lines.index(next(t for t in lines if "Checklist" in t)) > lines.index(
        next(t for t in lines if "api budget" in t)
    )
    user = _rows(emulator)["integration user"]
    assert (user.ok, user.warn) == (True, False)
    assert user.detail == (
        "integration@msr-engage.emulator: profile 'Minimum Access - API Only Integrations', "
        "licence 'Salesforce Integration'"
    )


def test_edit_access_removed_from_a_written_field_fails_naming_it(
    emulator: RunningEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = _config(emulator, tmp_path, monkeypatch)
    admin = emulator.session().post(
        emulator.instance_url + "/__admin__/faults",
        json={"field_edit": {"object": "Website_Job_View__c", "field": "View_Count__c", "editable": False}},
    )
    assert admin.status_code == 200
    code, lines = _check(config, capsys)
    assert code == 1
    failed = [line for line in lines if "FAIL" in line]
    assert len(failed) == 1
    assert "salesforce.objects.job_view.view_count" in failed[0]
    assert "View_Count__c is not createable, updateable" in failed[0]
    marks = _checklist(lines)
    assert {line: mark for line, mark in marks.items() if mark != "passed"} == {
        CHECKLIST[3][0]: "NOT",  # the permission set's line
        # the rules, what the sources read and step history are checked once every mapped field passes
        CHECKLIST[4][0]: "not",
        CHECKLIST[5][0]: "not",
        CHECKLIST[7][0]: "not",
    }


def test_a_user_whose_profile_is_not_api_only_is_warned_about(
    emulator: RunningEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    org = emulator.org
    (user,) = org.records("User")
    (profile,) = org.records("Profile")
    org.store.rows["Profile"][profile["Id"]]["Name"] = "System Administrator"
    code, lines = _check(_config(emulator, tmp_path, monkeypatch), capsys)
    assert code == 0  # a warning, not a failure: the connector works, with more rights than it needs
    assert any("integration user" in line and "WARN" in line for line in lines)
    assert _checklist(lines)[CHECKLIST[1][0]] == "NOT"
    row = _rows(emulator)["integration user"]
    assert (row.ok, row.warn) == (True, True)
    assert (
        row.detail == f"{user['Username']}: profile 'System Administrator', licence 'Salesforce Integration'"
    )
    assert "Minimum Access - API Only Integrations" in row.fix
