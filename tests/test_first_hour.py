"""A newcomer's first hour: help that renders what the source says, hints that paste, clear refusals."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from connector.entry import demo_cli, options
from connector.entry.cli import app
from connector.entry.daemon import instance_lock
from connector.events import parse_line
from tests.test_cli import EXAMPLE, LINES, run, write

README = Path(__file__).resolve().parents[1] / "README.md"
TABLE_NAME = re.compile(r"\[[a-z_]+(?:\.[a-z_*]+)*\]")


Walked = Iterator[tuple[tuple[str, ...], Any]]


def _commands(group: Any, path: tuple[str, ...] = ()) -> Walked:
    # Duck-typed: typer's groups are not always click.Group instances (typer vendors its own click).
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))


def _help_sources(command: Any) -> str:
    parts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
    return "\n".join(parts)


def test_every_help_text_shows_the_table_names_its_source_writes() -> None:
    runner, seen = CliRunner(), set()
    for path, command in _commands(typer.main.get_group(app)):
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, path
        for table in TABLE_NAME.findall(_help_sources(command)):
            assert table in result.stdout, f"{' '.join(path)} --help lost {table}"
            seen.add(table)
    assert {"[salesforce.objects]", "[pixel.collector]"} <= seen  # the walk reached the cases that broke


def test_no_help_text_promises_built_in_defaults() -> None:
    runner = CliRunner()
    for path, _ in _commands(typer.main.get_group(app)):
        text = " ".join(runner.invoke(app, [*path, "--help"]).stdout.split())
        assert "built-in defaults" not in text, path
    discover = " ".join(runner.invoke(app, ["discover", "--help"]).stdout.split())
    assert "else ./config.toml; without one it stops" in discover
    pixel = " ".join(runner.invoke(app, ["pixel", "serve", "--help"]).stdout.split())
    assert "else ./config.toml, else pixel defaults" in pixel  # the pixel needs no rules


def test_hint_names_the_venv_script_when_msr_engage_is_not_on_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "msr-engage").write_text("#!/bin/sh\n")
    (bin_dir / "msr-engage").chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert options.command_name() == os.path.join(".venv", "bin", "msr-engage")
    monkeypatch.setenv("PATH", str(bin_dir))
    assert options.command_name() == "msr-engage"  # activated: the bare name works


def test_sample_demo_hint_can_be_pasted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo_cli, "command_name", lambda: ".venv/bin/msr-engage")
    code, out, _ = run(capsys, "demo", "--sample", "--rows", "1")
    assert code == 0
    hint = out.splitlines()[-1]  # one line, however long: a wrapped hint would not paste
    assert re.fullmatch(
        r"Why is \w+ on top\?  MSR_ENGAGE_HOME=\S+ \.venv/bin/msr-engage explain \w+ --config \S+", hint
    )


@pytest.mark.parametrize("args", [["status"], ["explain", "003A"], ["dead-letters"]])
def test_read_only_commands_refuse_a_state_folder_that_does_not_exist(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "stat"
    monkeypatch.setenv("MSR_ENGAGE_HOME", str(typo))
    code, _, err = run(capsys, *args, *(["--config", str(EXAMPLE)] if args[0] == "explain" else []))
    assert code == 2
    assert err.splitlines() == [
        f"config error: state folder {typo} does not exist: check MSR_ENGAGE_HOME, or run a command that"
        " writes (ingest, sync --once) to start a ledger there"
    ]
    assert not typo.exists()


def test_ingest_creates_the_state_folder_it_writes_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh = tmp_path / "fresh"
    monkeypatch.setenv("MSR_ENGAGE_HOME", str(fresh))
    assert run(capsys, "ingest", str(write(tmp_path / "e.ndjson", LINES)))[0] == 0
    assert run(capsys, "status")[0] == 0


@pytest.mark.parametrize("bad", ["NOTANID", "003Dm00000000010", "003Dm000000000-01"])
def test_pixel_token_refuses_what_is_not_a_salesforce_id(
    bad: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MSR_ENGAGE_PIXEL__TOKEN_SECRET", "0123456789abcdef0123")
    code, out, err = run(capsys, "pixel", "token", bad)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"input error: {bad}: not a Salesforce id (15 or 18 letters and digits, like 003...)"
    ]


def test_skip_invalid_reports_how_many_lines_it_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = write(tmp_path / "e.ndjson", [LINES[0], "not json", LINES[1]])
    code, out, err = run(capsys, "ingest", str(events), "--skip-invalid")
    assert code == 0
    assert out.strip() == "added 2, duplicate 0, rejected 1"
    assert err.splitlines()[-1] == "skipped 1 invalid lines"


@pytest.mark.parametrize("command", ["ingest", "score"])
def test_skip_invalid_with_no_valid_line_is_bad_input(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = write(tmp_path / "e.ndjson", ["not json", '{"kind": "x"}'])
    extra = ["--config", str(EXAMPLE)] if command == "score" else []
    code, _, err = run(capsys, command, str(events), "--skip-invalid", *extra)
    assert code == 2
    assert err.splitlines()[-1] == f"input error: {events}: no valid events (2 invalid lines skipped)"


def test_backfill_since_a_future_date_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    future = (datetime.now(UTC) + timedelta(days=400)).date().isoformat()
    code, _, err = run(capsys, "backfill", "--since", future, "--config", str(EXAMPLE))
    assert code == 2
    assert re.fullmatch(
        rf"input error: --since: {future} is in the future \(today is \d{{4}}-\d\d-\d\d UTC\)\n", err
    )


@pytest.mark.parametrize(
    "args",
    [["score", "e.ndjson"], ["rescore"], ["sync", "--once"], ["backfill", "--since", "2026-01-01"],
     ["explain", "003A"], ["simulate"], ["run"]],
)  # fmt: skip
def test_a_config_without_rules_stops_every_command_that_scores(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "e.ndjson", LINES)
    empty = tmp_path / "empty.toml"
    empty.write_text("[scoring]\ntimezone = 'Europe/Amsterdam'\n")
    code, _, err = run(capsys, *args, "--config", str(empty))
    assert code == 2
    assert err.splitlines() == [
        f"config error: scoring.rules: {empty} has no rules: add [[scoring.rules]] tables"
        " (see config.example.toml)"
    ]


@pytest.mark.parametrize(
    "args",
    [["sync", "--once"], ["rescore"], ["backfill", "--since", "2026-01-01"], ["dead-letters", "--retry"]],
)
def test_writers_refuse_a_state_folder_the_daemon_holds(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "state"  # the autouse fixture's state folder
    extra = [] if args[0] == "dead-letters" else ["--config", str(EXAMPLE)]
    with instance_lock(home):
        code, _, err = run(capsys, *args, *extra)
        assert code == 1
        assert f"another msr-engage process (PID {os.getpid()}) writes to {home}" in err
        assert run(capsys, "status")[0] == 0  # reading still answers
        assert run(capsys, "dead-letters")[0] == 0


def test_pixel_serve_exits_0_on_sigterm(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "connector", "pixel", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={  # it serves only with an https public URL, the site's hosts and the token secret
            **os.environ,
            "MSR_ENGAGE_PIXEL__TOKEN_SECRET": "first-hour-secret-0123456789",
            "MSR_ENGAGE_PIXEL__COLLECTOR__PUBLIC_URL": "https://pixel.example.nl",
            "MSR_ENGAGE_PIXEL__SITE_HOSTS": '["www.example.nl"]',
        },
    )
    assert server.stdout is not None
    assert server.stdout.readline().startswith("pixel collector on 127.0.0.1:")  # listening: handler set
    server.send_signal(signal.SIGTERM)
    code = server.wait(timeout=30)
    server.stdout.close()
    assert code == 0


def _fenced(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)


def test_every_json_example_in_the_readme_is_one_event_per_line() -> None:
    blocks = _fenced("json")
    assert blocks
    for block in blocks:
        for line in block.splitlines():
            parse_line(line)


def test_every_toml_example_in_the_readme_parses() -> None:
    blocks = _fenced("toml")
    assert len(blocks) >= 2
    for block in blocks:
        tomllib.loads(block)


def test_an_empty_secret_file_is_named_as_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.secret").write_text("\n")
    (tmp_path / "empty.secret").chmod(0o600)
    config = tmp_path / "c.toml"
    config.write_text(
        '[salesforce]\nlogin_url = "https://127.0.0.1:1"\nauth = "client_credentials"\nclient_id = "x"\n'
        'client_secret_file = "empty.secret"\n'
    )
    code, _, err = run(capsys, "check", "--config", str(config))
    assert code == 2
    assert err.splitlines() == [
        "config error: salesforce: client_secret_file: empty.secret is empty: put the client_secret in it"
    ]


def _readme_commands() -> dict[str, tuple[set[str], str]]:
    """Each command the README's table shows, with the options it shows for it and its row."""
    table = README.read_text(encoding="utf-8").split("## Commands", 1)[1].split("\n\n", 1)[0]
    shown: dict[str, tuple[set[str], str]] = {}
    for row in table.splitlines()[2:]:
        first_cell = row.split(" | ")[0]
        group = ""
        for span in re.findall(r"`([^`]+)`", first_cell):
            words = span.removeprefix("msr-engage ").split()
            if not span.startswith("msr-engage ") and group and words[0] not in ("pixel", "emulator"):
                words = [group, *words]  # `pixel token …` / `pixel serve`: the group carries over
            name = " ".join(w for w in words[:2] if re.fullmatch(r"[a-z][a-z-]*", w))
            name = name if name.split()[0] in ("pixel", "emulator") else name.split()[0]
            group = name.split()[0] if " " in name else ""
            shown[name] = set(re.findall(r"--[a-z][a-z-]*", span)), row
    return shown


def test_the_readme_command_table_matches_the_commands_and_their_options() -> None:
    runner, shown = CliRunner(), _readme_commands()
    walked = _commands(typer.main.get_group(app))
    leaves = {" ".join(path) for path, c in walked if not hasattr(c, "commands")}
    assert leaves - set(shown) == {"version"}  # every command a user needs is in the table
    for name, (flags, _) in shown.items():
        result = runner.invoke(app, [*name.split(), "--help"])
        assert result.exit_code == 0, name
        assert flags <= set(re.findall(r"--[a-z][a-z-]*", result.stdout)), name


def test_commands_without_config_say_so_and_why_in_help_and_readme() -> None:
    runner, shown = CliRunner(), _readme_commands()
    without = set()
    for path, command in _commands(typer.main.get_group(app)):
        if hasattr(command, "commands"):
            continue
        text = " ".join(runner.invoke(app, [*path, "--help"]).stdout.split())
        name = " ".join(path)
        if "--config" in text:
            assert name not in shown or "no config" not in shown[name][1], name
            continue
        without.add(name)
        assert re.search(r"Needs no config: \S.{15,}", text), f"{name} --help does not say why it needs none"
        assert name == "version" or "no config" in shown[name][1], f"README row of {name}"
    # The ones a newcomer tried with --config and got "No such option" are among them (ingest takes one:
    # its config's sources name the event kinds an events file may hold).
    assert {"status", "dead-letters"} <= without
    assert "ingest" not in without


def test_plan_summary_counts_contacts_per_field_and_score_line() -> None:
    from types import SimpleNamespace

    from rich.console import Console

    from connector.entry import views

    plans = [
        SimpleNamespace(
            contact_id="003A", values={"Lead_Score__c": 30, "Band__c": "warm"}, lines={"intake": 30}
        ),
        SimpleNamespace(contact_id="003B", values={"Lead_Score__c": 5}, lines={}),
    ]
    console = Console(width=200, record=True)
    console.print(views.plan_summary(plans))
    text = console.export_text()
    assert "Write plan summary (nothing written): 2 contacts" in " ".join(text.split())
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in text.splitlines() if "│" in line]
    assert rows == [
        ["Contact field", "Band__c", "1"],
        ["Contact field", "Lead_Score__c", "2"],
        ["score line", "intake", "1"],
    ]


def test_summary_without_dry_run_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "sync", "--once", "--summary", "--config", str(EXAMPLE))
    assert code == 2
    assert err.splitlines() == ["input error: --summary: only with --dry-run (it summarises the write plan)"]


@pytest.mark.parametrize("args", [["rescore"], ["discover"], ["sync", "--once"], ["explain", "003A"]])
def test_no_config_anywhere_is_one_line_naming_the_three_ways_to_give_one(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, *args)  # the fixture runs in an empty folder, MSR_ENGAGE_CONFIG unset
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "config error: no config.toml found: pass --config PATH, set MSR_ENGAGE_CONFIG, or copy"
        " config.example.toml to config.toml"
    ]
