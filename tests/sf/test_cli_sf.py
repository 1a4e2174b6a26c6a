"""The discover/check commands' config edge: a missing [salesforce] table or a secret in the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.entry.cli import main


def run(argv: list[str]) -> int:
    """Run the CLI; its exit code."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    return int(exited.value.code or 0)


def test_check_without_a_salesforce_table_says_how_to_add_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    assert run(["check", "--config", str(config)]) == 2
    assert "has no salesforce table" in capsys.readouterr().err


def test_a_secret_in_config_toml_is_refused_with_the_variable_to_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[salesforce]\nauth = "refresh_token"\nclient_id = "c"\nrefresh_token = "5Aep861..."\n',
        encoding="utf-8",
    )
    assert run(["discover", "--config", str(config)]) == 2
    error = capsys.readouterr().err
    assert "MSR_ENGAGE_SALESFORCE__REFRESH_TOKEN" in error
    assert "5Aep861" not in error


def test_secrets_come_from_a_file_named_in_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from connector.config import load_settings

    secret = tmp_path / "secret.txt"
    secret.write_text("abc\n", encoding="utf-8")
    secret.chmod(0o600)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[salesforce]\nauth = "client_credentials"\nclient_id = "c"\nclient_secret_file = "{secret}"\n',
        encoding="utf-8",
    )
    settings = load_settings(config).salesforce
    assert settings is not None
    assert settings.client_secret is not None
    assert settings.client_secret.get_secret_value() == "abc"
    monkeypatch.setenv("MSR_ENGAGE_SALESFORCE__CLIENT_SECRET", "from-env")
    config.write_text('[salesforce]\nauth = "client_credentials"\nclient_id = "c"\n', encoding="utf-8")
    settings = load_settings(config).salesforce
    assert settings is not None
    assert settings.client_secret is not None
    assert settings.client_secret.get_secret_value() == "from-env"
