"""The command line as a user meets it: exit codes, messages, output formats, help on every command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer.main

from connector.entry.cli import app, main

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"
LINES = [
    {"contact_id": "003B", "kind": "application.step", "at": "2026-06-01T09:00:00Z",
     "attrs": {"step": "Match"}},
    {"contact_id": "003A", "kind": "application.step", "at": "2026-06-02T09:00:00Z",
     "attrs": {"step": "Intake verwerkt"}},
    {"contact_id": "003A", "kind": "application.step", "at": "2026-06-20T09:00:00+02:00",
     "attrs": {"step": "Aangenomen"}},
]  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


def write(path: Path, lines: list[object]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    group = typer.main.get_group(app)
    names = sorted(group.commands)
    assert {"score", "ingest", "rescore", "explain", "simulate", "demo"} <= set(names)
    for name in names:
        command = group.commands[name]
        assert command.help, f"{name} has no help text"
        code, out, _ = run(capsys, name, "--help")
        assert code == 0
        assert "Usage" in out


def test_score_prints_ndjson_sorted_by_contact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = write(tmp_path / "e.ndjson", LINES)
    code, out, _ = run(
        capsys, "score", str(events), "--config", str(EXAMPLE), "--now", "2026-06-30T12:00:00Z"
    )
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["contact_id"] for r in rows] == ["003A", "003B"]
    assert rows[0] | {"lines": None} == rows[0] | {
        # 30 (intake) + 40 (hired) - 5: the inactivity penalty of 06-16 fell between intake and hire.
        "score": 65, "band": "warm", "medal": "gold", "first_qualified_on": "2026-06-02",
        "first_placed_on": "2026-06-20", "lines": None, "heating_up": False, "last_engaged_by": "hired",
        "explanation": "Hired 40 until 2026-12-17 · Intake 30 until 2026-08-31 · Inactivity \u22125",
    }  # fmt: skip
    assert rows[1]["score"] is None
    assert rows[1]["band"] is None


def test_malformed_line_stops_with_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = write(tmp_path / "e.ndjson", [LINES[0], "{not json", LINES[1]])
    code, out, err = run(capsys, "score", str(events), "--config", str(EXAMPLE))
    assert code == 2
    assert f"{events}:2: not JSON" in err
    assert out == ""


def test_skip_invalid_reports_each_line_and_scores_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    naive = dict(LINES[1], at="2026-06-02T09:00:00")
    events = write(tmp_path / "e.ndjson", [LINES[0], "[1]", naive, LINES[2]])
    code, out, err = run(capsys, "score", str(events), "--config", str(EXAMPLE), "--skip-invalid")
    assert code == 0
    assert f"{events}:2: not a JSON object" in err
    assert f"{events}:3: at: time zone missing" in err
    assert len(out.splitlines()) == 2


def test_bad_config_exits_2_naming_each_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        EXAMPLE.read_text().replace("valid_days = 45", "valid_days = 0").replace("hot = 75", "hot = 40")
        + '\n[[scoring.rules]]\nname = "intake"\nevent = "x"\npoints = 1\ncolour = "red"\n'
    )
    code, _, err = run(capsys, "score", "-", "--config", str(bad))
    assert code == 2
    assert "scoring.rules[6].valid_days: must be > 0" in err
    assert "scoring.rules[9].colour: unknown key" in err
    assert "scoring.bands: band bounds must increase" in err


def test_duplicate_rule_names_are_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "dup.toml"
    bad.write_text(EXAMPLE.read_text() + '\n[[scoring.rules]]\nname = "intake"\nevent = "x"\npoints = 1\n')
    code, _, err = run(capsys, "score", "-", "--config", str(bad))
    assert code == 2
    assert "scoring.rules: duplicate rule names: intake" in err


def test_missing_config_is_an_error_not_a_silent_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "rescore")
    assert code == 2
    assert "no config.toml found" in err


def test_ingest_reports_added_then_duplicates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = write(tmp_path / "e.ndjson", LINES)
    assert run(capsys, "ingest", str(events))[1].strip() == "added 3, duplicate 0, rejected 0"
    assert run(capsys, "ingest", str(events))[1].strip() == "added 0, duplicate 3, rejected 0"


def test_ingest_of_an_unknown_event_kind_lists_the_known_kinds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = {"contact_id": "003A", "kind": "email.bounced", "at": "2026-06-01T09:00:00Z"}
    events = write(tmp_path / "e.ndjson", [LINES[0], odd])
    code, out, err = run(capsys, "ingest", str(events))
    assert code == 2
    assert f"{events}:2: kind: unknown event kind 'email.bounced'" in err
    assert "(known kinds: application.step, appointment.made," in err
    assert "contact.updated" in err
    assert "web.visit" in err
    assert out == ""


def test_rescore_then_explain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MSR_ENGAGE_CONFIG", str(EXAMPLE))
    run(capsys, "ingest", str(write(tmp_path / "e.ndjson", LINES)))
    code, out, _ = run(capsys, "rescore", "--now", "2026-06-30T12:00:00Z")
    assert (code, out.strip()) == (0, "scored 2 contacts, 2 changed")
    code, out, _ = run(capsys, "explain", "003A", "--now", "2026-06-30T12:00:00Z")
    assert code == 0
    assert "score 65, band warm, medal gold" in out
    assert "hired" in out
    assert run(capsys, "explain", "003Q")[0] == 2


def test_bad_now_is_an_input_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "score", "-", "--config", str(EXAMPLE), "--now", "yesterday")
    assert code == 2
    assert "--now: not an ISO 8601 time" in err


def test_simulate_prints_matrix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "ingest", str(write(tmp_path / "e.ndjson", LINES)))
    proposed = tmp_path / "new.toml"
    proposed.write_text(EXAMPLE.read_text().replace("points = 40", "points = 5"))
    code, out, _ = run(capsys, "simulate", "--config", str(proposed), "--current", str(EXAMPLE),
                       "--now", "2026-06-30T12:00:00Z")  # fmt: skip
    assert code == 0
    assert "Band shifts (2 contacts, 1 would change)" in out
    assert "Medal changes (lowered: 0" in out
    assert "003A" in out


def test_demo_sample_scores_the_bundled_sample(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "demo", "--sample", "--rows", "3")
    assert code == 0
    assert "Top 3 of 260 contacts, hot first" in out
    assert "Bands: hot" in out
    assert " hot " in out.split("Bands:")[0]


def test_messages_keep_square_brackets(capsys: pytest.CaptureFixture[str]) -> None:
    cfg = Path("c.toml")
    cfg.write_text(EXAMPLE.read_text())
    code, _, err = run(capsys, "sync", "--once", "--config", str(cfg))
    assert code == 2
    assert "add [salesforce] with login_url" in err


def test_sync_needs_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "sync", "--config", str(EXAMPLE))
    assert code == 2
    assert "msr-engage run" in err


def test_live_demo_writes_details_into_the_emulated_org(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "demo", "--ticks", "3", "--pace", "0")
    assert code == 0
    assert "3 steps of 3 h org time" in out
    changes = int(out.split("steps moved, ")[1].split(" Contact field changes")[0])
    assert changes > 100  # the first cycle fills the seeded org's candidates
    assert "Latest changes in the org's Contact fields" in out
    website = out.split("Website: ")[1].split(" for contacts")[0]
    hits, visits = int(website.split()[0]), int(website.split("; ")[1].split()[0])
    assert hits > 0
    assert visits > 0  # simulated candidates' visits reached the org as Website visit records


def test_simulate_compares_with_the_rules_the_ledger_applied_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime

    from connector import paths
    from connector.config import load_settings
    from connector.ledger import Ledger
    from connector.ledger.rule_sets import record_rules
    from connector.scoring.rulesets import fingerprint, rules_text

    run(capsys, "ingest", str(write(tmp_path / "e.ndjson", LINES)))
    applied = load_settings(EXAMPLE)
    text = rules_text(applied.scoring, applied.medals)
    with Ledger(paths.ledger_path()) as ledger:
        record_rules(ledger, fingerprint(text), text, datetime(2026, 6, 1, tzinfo=UTC), 0, forced=False)
    edited = tmp_path / "config.toml"  # config.toml edited in place: it is both "current" and proposed
    edited.write_text(EXAMPLE.read_text().replace("points = 40", "points = 5"))
    code, out, _ = run(capsys, "simulate", "--config", str(edited), "--now", "2026-06-30T12:00:00Z")
    assert code == 0
    assert "1 would change" in out


def test_ingest_with_a_config_accepts_the_kinds_its_sources_make(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "agency.toml"  # not ./config.toml, which ingest would read by default
    config.write_text(
        EXAMPLE.read_text()
        + """
[[sources.salesforce]]
name = "placements"
object = "Placement__c"
contact = "Candidate__c"
watched = ["Start__c"]
events = [{ kind = "placement.started", time = "Start__c" }]
"""
    )
    custom = {"contact_id": "003A", "kind": "placement.started", "at": "2026-06-01T09:00:00Z"}
    events = write(tmp_path / "e.ndjson", [custom])
    assert run(capsys, "ingest", str(events))[0] == 2  # without the config: an unknown kind
    code, out, _ = run(capsys, "ingest", str(events), "--config", str(config))
    assert (code, out.strip()) == (0, "added 1, duplicate 0, rejected 0")
