"""Hostile and broken input at the edges (issue 15): one line, the right exit code, nothing followed."""

from __future__ import annotations

import os
import socket
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
import responses
from pydantic import SecretStr, ValidationError

from connector.config import load_settings
from connector.config.pixel import PixelApi
from connector.config.salesforce import ObjectMapping, SalesforceSettings
from connector.config.sync import OrgSource
from connector.entry import cli, pixel_cli
from connector.errors import ConfigError, ProviderRefusedError, SalesforceRequestError
from connector.pixel.sources import fetch_pages
from connector.sf.client import SalesforceClient
from connector.sf.policy import RetryPolicy
from tests.test_cli import run, write

if TYPE_CHECKING:
    from connector.emulator.testing import RunningEmulator

CC = '[salesforce]\nlogin_url = "{url}"\nauth = "client_credentials"\nclient_id = "x"\n'
EVENT = {"id": "e1", "contact_id": "003A", "kind": "email.opened", "at": "2026-01-01T00:00:00Z", "attrs": {}}


def private(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def config_error(capsys: pytest.CaptureFixture[str], config: Path) -> list[str]:
    code, _, err = run(capsys, "check", "--config", str(config))
    assert code == 2
    return err.splitlines()


# -- files and secrets ----------------------------------------------------------------------------


def test_a_secret_file_others_can_read_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "cs.secret"
    secret.write_text("s3cret\n")
    secret.chmod(0o644)
    config = tmp_path / "c.toml"
    config.write_text(CC.format(url="https://127.0.0.1:1") + f'client_secret_file = "{secret}"\n')
    assert config_error(capsys, config) == [
        f"config error: salesforce: client_secret_file: {secret} is open to group or others (mode 0644):"
        f' chmod 600 {secret} (or set secret_file_modes = "warn")'
    ]
    config.write_text(config.read_text() + 'secret_file_modes = "warn"\n')
    assert load_settings(config).salesforce is not None  # accepted, with a warning


def test_a_private_key_others_can_read_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "server.key"
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    key.chmod(0o640)
    with pytest.raises(ValidationError, match=r"private_key_file: .* is open to group or others"):
        SalesforceSettings(auth="jwt", client_id="c", username="u", private_key_file=key)


def test_a_platform_mounted_secret_shared_with_our_group_only_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connector.paths import secret_file_problem

    key = tmp_path / "private.key"
    key.write_text("k")
    os.chown(key, -1, os.getegid())
    key.chmod(0o440)  # a Kubernetes Secret with fsGroup: owned by root, readable by the pod's group
    assert secret_file_problem(key) is not None  # our own file: 0440 is still too open
    owner = key.stat().st_uid
    monkeypatch.setattr(os, "geteuid", lambda: owner + 1)  # as the daemon sees it: someone else's file
    assert secret_file_problem(key) is None
    key.chmod(0o444)
    assert secret_file_problem(key) is not None  # others may never read it
    key.chmod(0o460)
    assert secret_file_problem(key) is not None  # nor our group write it


def test_a_secret_in_config_toml_is_refused_even_when_the_environment_sets_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MSR_ENGAGE_SALESFORCE__CLIENT_SECRET", "from-env")
    monkeypatch.setenv("MSR_ENGAGE_PIXEL__TOKEN_SECRET", "from-env-0123456789")
    config = tmp_path / "c.toml"
    config.write_text(
        CC.format(url="https://x.my.salesforce.com") + 'client_secret = "in-file"\n'
        '[pixel]\ntoken_secret = "in-file-0123456789"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert caught.value.problems == [
        f"{config}: salesforce.client_secret is a secret and must not be in config.toml: remove it and set"
        " MSR_ENGAGE_SALESFORCE__CLIENT_SECRET (or client_secret_file)",
        f"{config}: pixel.token_secret is a secret and must not be in config.toml: remove it and set"
        " MSR_ENGAGE_PIXEL__TOKEN_SECRET",
    ]


def test_an_empty_environment_variable_is_an_error_not_a_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = private(tmp_path / "cs.secret", "from-file\n")
    config = tmp_path / "c.toml"
    config.write_text(CC.format(url="https://x.my.salesforce.com") + f'client_secret_file = "{secret}"\n')
    monkeypatch.setenv("MSR_ENGAGE_SALESFORCE__CLIENT_SECRET", "")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert caught.value.problems == [
        "MSR_ENGAGE_SALESFORCE__CLIENT_SECRET is set but empty: give it a value or unset it"
    ]


def test_files_the_process_makes_are_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "fresh-state"
    monkeypatch.setenv("MSR_ENGAGE_HOME", str(home))
    before = os.umask(0o022)
    try:
        code, _, _ = run(capsys, "ingest", str(write(tmp_path / "e.ndjson", [EVENT])))
        assert code == 0
        assert os.umask(0o022) == 0o077  # main() set it for the whole process
    finally:
        os.umask(before)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    made = [p for p in home.iterdir() if p.is_file()]
    assert made
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in made} == {p.name: 0o600 for p in made}


def test_the_emulator_writes_its_secret_files_private_from_the_start(tmp_path: Path) -> None:
    from connector.emulator.server import load_or_make_jwt_key
    from connector.paths import write_private

    target = tmp_path / "loose"
    target.write_text("old")
    target.chmod(0o644)
    write_private(target, "secret")  # an existing file is narrowed before the secret is written
    assert (stat.S_IMODE(target.stat().st_mode), target.read_text()) == (0o600, "secret")
    from connector.emulator.org import Emulator

    before = os.umask(0o022)
    try:
        key, _ = load_or_make_jwt_key(tmp_path / "emu")
        state = tmp_path / "org.json"
        emulator = Emulator(state_file=state)
        emulator.save()  # holds the org's client secret and refresh token
    finally:
        os.umask(before)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert emulator.settings.client_secret in state.read_text()


# -- clean failures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("a = " + "[" * 2000 + "]" * 2000, "not valid TOML: nested too deeply"),
        ("[sync]\npoll_interval_seconds = " + "1" * 5000, "not valid TOML: Exceeds the limit (4300 digits)"),
        ("[sync]\npoll_interval_seconds = " + "1" * 400, "sync.poll_interval_seconds: number too large"),
        ("[sync]\nmax_change_share = inf", "sync.max_change_share: must be a finite number"),
        ("[sync]\n" + "x = {" * 20 + "}" * 20, "nested too deeply"),
    ],
)
def test_hostile_toml_is_one_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, problem: str
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(body)
    [line] = config_error(capsys, config)
    assert line.startswith(f"config error: {config}: ")
    assert problem in line


def test_a_bad_jwt_key_is_one_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = private(tmp_path / "server.key", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\n")
    config = tmp_path / "c.toml"
    config.write_text(
        '[salesforce]\nlogin_url = "https://127.0.0.1:1"\nauth = "jwt"\nclient_id = "x"\nusername = "u"\n'
        f'private_key_file = "{key}"\n'
    )
    code, out, err = run(capsys, "discover", "--config", str(config))
    assert code == 2
    assert err.splitlines() == [
        f"config error: salesforce.private_key_file: {key} is not a PEM RSA private key"
    ]
    assert "MIIE" not in out + err


def test_a_missing_ca_bundle_is_one_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = private(tmp_path / "cs.secret", "s\n")
    config = tmp_path / "c.toml"
    config.write_text(
        CC.format(url="https://127.0.0.1:1") + f'client_secret_file = "{secret}"\nca_bundle = "nope.pem"\n'
    )
    assert config_error(capsys, config) == [
        "config error: salesforce: ca_bundle: nope.pem is not a file (a PEM bundle of CA certificates)"
    ]


def test_an_unusable_state_folder_is_one_line_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    events = str(write(tmp_path / "e.ndjson", [EVENT]))
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("MSR_ENGAGE_HOME", str(tmp_path / "a-file" / "state"))
    code, _, err = run(capsys, "ingest", events)
    assert (code, err.splitlines()) == (
        1,
        [f"error: state folder {tmp_path}/a-file/state: cannot create it: Not a directory"],
    )
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "ledger.db").write_text("not a database, e.g. a disk that filled up mid-write\n" * 100)
    monkeypatch.setenv("MSR_ENGAGE_HOME", str(broken))
    code, _, err = run(capsys, "ingest", events)
    assert (code, err.splitlines()) == (
        1,
        [
            f"error: the ledger in state folder {broken} cannot be used: file is not a database:"
            " check its rights and free space"
        ],
    )


def test_typer_pretty_exceptions_are_off() -> None:
    # With them on, an unexpected traceback prints locals: the first characters of a private key.
    assert not cli.app.pretty_exceptions_enable
    assert not cli.emulator_app.pretty_exceptions_enable
    assert not pixel_cli.pixel_app.pretty_exceptions_enable


def _cc_config(tmp_path: Path, url: str, extra: str = "") -> Path:
    secret = private(tmp_path / "cs.secret", "s\n")
    config = tmp_path / "c.toml"
    config.write_text(CC.format(url=url) + f'client_secret_file = "{secret}"\n{extra}')
    return config


def test_an_unreachable_org_fails_fast_with_the_cause(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = _cc_config(tmp_path, f"https://127.0.0.1:{port}")
    started = time.monotonic()
    code, _, err = run(capsys, "discover", "--config", str(config))
    assert time.monotonic() - started < 10  # not six attempts with backoff (33 s before)
    assert (code, err.splitlines()) == (
        1,
        [
            f"error: cannot reach https://127.0.0.1:{port}: connection refused (nothing listens there:"
            " check login_url and the network)"
        ],
    )


def test_a_dns_failure_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_dns(*_: object, **__: object) -> list[object]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)  # no query leaves the machine
    config = _cc_config(tmp_path, "https://acme.my.salesforce.com")
    code, _, err = run(capsys, "discover", "--config", str(config))
    assert (code, err.splitlines()) == (
        1,
        [
            "error: cannot reach https://acme.my.salesforce.com: DNS lookup failed"
            " (check login_url and the network)"
        ],
    )


def test_an_untrusted_certificate_is_named(
    tmp_path: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _cc_config(tmp_path, emulator.login_url)  # no ca_bundle: the emulator's CA is not trusted
    code, _, err = run(capsys, "discover", "--config", str(config))
    [line] = err.splitlines()
    assert code == 1
    assert line.startswith(f"error: cannot reach {emulator.login_url}: TLS verification failed (")
    assert line.endswith("): check ca_bundle and login_url")


# -- names and URLs from outside ------------------------------------------------------------------


def test_an_api_name_with_a_comma_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValidationError, match="is not a Salesforce API name"):
        ObjectMapping.model_validate({"contact": {"tracking_consent": "Tracking_Consent__c, Email, Phone"}})
    config = tmp_path / "c.toml"
    config.write_text('[salesforce.objects.contact]\ntracking_consent = "Tracking_Consent__c, Email"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert caught.value.problems == [
        "salesforce.objects.contact.tracking_consent: 'Tracking_Consent__c, Email' is not a Salesforce API"
        " name (a letter, then letters, digits and underscores; dots only between relationship names)"
    ]
    assert ObjectMapping.model_validate({"contact": {"record_type": "RecordType.DeveloperName"}})


def test_source_names_and_conditions_are_checked() -> None:
    base = {
        "name": "apps",
        "object": "msf__Job_Application__c",
        "contact": "msf__Candidate__c",
        "watched": ["Id"],
    }
    assert OrgSource.model_validate(base | {"where": "msf__Step__c IN ('a', 'b') AND Name != 'x)'"})
    for bad, message in [
        ({"watched": ["Id, Email"]}, "not a Salesforce API name"),
        ({"object": "Contact WHERE Id != null"}, "not a Salesforce API name"),
        ({"where": "Id != null LIMIT 1"}, "LIMIT is another clause"),
        ({"where": "Name = 'x"}, "a quote is not closed"),
        ({"where": "(Id != null"}, "a parenthesis is not closed"),
        ({"where": "Id != null) OR (Id = null"}, "unbalanced"),
    ]:
        with pytest.raises(ValidationError, match=message):
            OrgSource.model_validate(base | bad)


@responses.activate
def test_a_next_records_url_pointing_elsewhere_is_not_followed() -> None:
    instance = "https://acme.my.salesforce.com"
    responses.post(
        "https://login.salesforce.com/services/oauth2/token",
        json={"access_token": "tok", "instance_url": instance},
    )
    settings = SalesforceSettings(auth="client_credentials", client_id="c", client_secret=SecretStr("s"))
    client = SalesforceClient(settings, retry=RetryPolicy(attempts=1), sleep=lambda _: None)
    for bad in ("@evil.example/services/data/v62.0/query/01g-2", "//evil.example/x", "https://evil.example/q",
                "/services/data/v62.0/sobjects/Contact/003A"):  # fmt: skip
        with pytest.raises(SalesforceRequestError, match="not followed"):
            client.next_page(bad)
    assert [c.request.url for c in responses.calls if "evil" in (c.request.url or "")] == []
    responses.get(
        f"{instance}/services/data/v62.0/query/01gD0000002HU6KIAW-2000", json={"done": True, "records": []}
    )
    assert client.next_page("/services/data/v62.0/query/01gD0000002HU6KIAW-2000")["done"] is True


def test_an_http_pixel_api_url_is_refused() -> None:
    with pytest.raises(ValidationError, match="should match pattern"):
        PixelApi(url="http://pixel.example.com/hits")


@responses.activate
def test_the_pixel_api_client_follows_no_redirect() -> None:
    api = PixelApi(url="https://pixel.example.com/hits")
    responses.get(api.url, status=302, headers={"Location": "https://evil.example/steal"})
    responses.get("https://evil.example/steal", json={"hits": []})
    with requests.Session() as session, pytest.raises(ProviderRefusedError, match="redirect, not followed"):
        list(fetch_pages(session, api, None))
    assert [c.request.url for c in responses.calls if "evil" in (c.request.url or "")] == []
