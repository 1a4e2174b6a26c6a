"""`evaluate` and `simulate --evaluate` as a user runs them: a ledger with a signal, the tables, the page."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from connector import paths
from connector.entry.cli import main
from connector.events import Event, make_event
from connector.ledger import Ledger

NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)
CURRENT = """
[scoring]
timezone = "UTC"
[[scoring.rules]]
name = "click"
event = "email.clicked"
points = 10
"""
# Scores only web visits, which the fixture ledger draws at random, whatever the candidate does next;
# valid for 14 days, so a score does not grow with the snapshot's date (placements grow more likely
# among the candidates left as the months pass: pooled snapshots would read that trend as a signal).
RANDOM = CURRENT.replace('"click"', '"visit"').replace('"email.clicked"', '"web.visit"') + "valid_days = 14\n"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


def history(contacts: int = 300, seed: int = 11) -> list[Event]:
    """150 days: engaged candidates click often and are placed more; everyone visits at random."""
    rng = random.Random(seed)
    start = NOW - timedelta(days=150)
    events: list[Event] = []
    for i in range(contacts):
        contact = f"003{i:05d}"
        events.append(make_event(contact, "contact.updated", start, {"kind": "candidate"}))
        engaged = rng.random() < 0.35
        placed_day = rng.uniform(20, 150) if rng.random() < (0.55 if engaged else 0.06) else None
        for _ in range(rng.randint(6, 14) if engaged else rng.randint(0, 1)):
            events.append(make_event(contact, "email.clicked", start + timedelta(days=rng.uniform(0, 150))))
        for _ in range(rng.randint(0, 8)):
            events.append(make_event(contact, "web.visit", start + timedelta(days=rng.uniform(0, 150))))
        if placed_day is not None:
            step = {"step": "Aangenomen", "application_id": f"a0X{i}"}
            events.append(make_event(contact, "application.step", start + timedelta(days=placed_day), step))
    return events


@pytest.fixture
def configs(tmp_path: Path) -> tuple[Path, Path]:
    with Ledger(paths.ledger_path()) as ledger:
        ledger.append(history())
    current, noise = tmp_path / "current.toml", tmp_path / "random.toml"
    current.write_text(CURRENT)
    noise.write_text(RANDOM)
    return current, noise


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.cells: list[list[str]] = []
        self.table: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self.table = dict(attrs).get("class")
        if tag == "tr":
            self.cells.append([str(self.table)])

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.tags and self.tags[-1][0] in {"td"} and self.cells:
            self.cells[-1].append(data)


def test_evaluate_writes_a_self_contained_report(
    configs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current, _ = configs
    report = tmp_path / "r.html"
    code, out, err = run(
        capsys, "evaluate", "-c", str(current), "--html", str(report), "--now", "2026-06-30T12:00:00Z"
    )
    assert code == 0, err
    assert "AUC" in out
    assert "hot" in out
    assert "report written" in out
    page = _Page()
    page.feed(report.read_text())
    svgs = [attrs.get("id") for tag, attrs in page.tags if tag == "svg"]
    assert svgs == ["plot-bands", "plot-gains", "plot-deciles"]
    assert sum(1 for tag, _ in page.tags if tag == "polyline") == 1  # the gains curve
    assert sum(1 for tag, attrs in page.tags if tag == "rect" and attrs.get("class") == "bar") >= 10
    # Nothing fetched: no script, stylesheet, image or frame, and no address in any attribute or style.
    assert not {tag for tag, _ in page.tags} & {"script", "link", "img", "iframe", "object", "embed"}
    assert all("://" not in str(value) for _, attrs in page.tags for value in attrs.values())
    assert "://" not in "".join(page.text)
    assert "url(" not in report.read_text()
    overall = next(row for row in page.cells if row[0] == "overall" and len(row) > 2)
    bands = [row for row in page.cells if row[0] == "bands" and len(row) > 2]
    assert [row[1] for row in bands] == ["hot", "warm", "lukewarm", "cold", "no score"]
    assert sum(int(row[2]) for row in bands) == int(overall[2]) > 1000  # ~300 candidates, 17 snapshots


def test_simulate_evaluate_puts_random_rules_beside_the_current(
    configs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    current, noise = configs
    code, out, err = run(
        capsys,
        "simulate",
        "--current",
        str(current),
        "--evaluate",
        str(noise),
        "--now",
        "2026-06-30T12:00:00Z",
    )
    assert code == 0, err
    rows = {line.split("│")[1].strip(): line.split("│") for line in out.splitlines() if "│" in line}
    current_auc, random_auc = float(rows["current"][5]), float(rows["proposed"][5])
    assert current_auc > 0.75
    assert abs(random_auc - 0.5) < 0.06
    assert rows["current"][2] == rows["proposed"][2]  # the same snapshots and candidates


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--horizon", "soon"], "--horizon: expected a period such as 30d or 6w"),
        (["--outcome", "hired"], "--outcome: must be one of intake, proposed, placed"),
        (["--since", "2026-13-01"], "--since: expected a date"),
        (["--since", "2026-06-20"], "no snapshot from 2026-06-20"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    configs: tuple[Path, Path], capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = run(capsys, "evaluate", "-c", str(configs[0]), "--now", "2026-06-30T12:00:00Z", *args)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_simulate_needs_exactly_one_proposed_config(
    configs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    current, noise = configs
    for args in ([], ["--config", str(current), "--evaluate", str(noise)]):
        code, _, err = run(capsys, "simulate", *args)
        assert code == 2
        assert "pass the proposed rules as --config (preview) or --evaluate (evaluation)" in err


def test_the_first_snapshot_is_a_period_after_the_first_event_a_rule_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Contacts created long before anyone engaged do not fill snapshots where no band can differ."""
    with Ledger(paths.ledger_path()) as ledger:
        ledger.append(
            [make_event("003OLD", "contact.updated", NOW - timedelta(days=400), {"kind": "candidate"})]
        )
        ledger.append(history())  # scoring events from 150 days before NOW
    current = tmp_path / "current.toml"
    current.write_text(CURRENT)
    code, out, err = run(capsys, "evaluate", "-c", str(current), "--now", NOW.isoformat())
    assert code == 0, err
    first_click = min(e.at for e in history() if e.kind in ("email.clicked", "application.step"))
    expected = (first_click + timedelta(days=7)).date().isoformat()
    assert f"snapshots ({expected} …" in out
    code, out, _ = run(
        capsys, "evaluate", "-c", str(current), "--now", NOW.isoformat(), "--since", "2025-06-01"
    )
    assert code == 0
    assert "snapshots (2025-06-01 …" in out  # an explicit --since still goes back as far as asked


def test_evaluate_tells_its_progress_in_contacts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long evaluation (minutes at a million contacts) shows a bar: contacts done, of all."""
    from connector.config import load_settings
    from connector.shell import evaluate as shell

    with Ledger(paths.ledger_path()) as ledger:
        ledger.append(history(contacts=250))
        monkeypatch.setattr(shell, "PROGRESS_EVERY", 100)
        told: list[int] = []
        settings = load_settings(paths.example_config())
        shell.evaluate(
            ledger, [settings], outcome="placed", horizon=timedelta(days=30), every=timedelta(days=7),
            since=None, now=NOW, progress=told.append,
        )  # fmt: skip
        assert told == [100, 100, 50]
        assert sum(told) == ledger.count_contacts()
