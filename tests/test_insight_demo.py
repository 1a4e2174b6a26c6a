"""On the demo org's ledger: `evaluate --html` exits 0 with bands that add up; `history` after a pass."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from connector.emulator.testing import running_emulator
from connector.events import from_micros
from connector.ledger import Ledger
from connector.ledger.history import history_of
from tests.browser import Picture, screenshot
from tests.test_cli import run
from tests.test_daemon import cli, connector_env


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.table, self.rows, self.in_td, self.svgs = "", list[list[str]](), False, 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.svgs += tag == "svg"
        if tag == "table":
            self.table = dict(attrs).get("class") or ""
        elif tag == "tr":
            self.rows.append([self.table])
        self.in_td = tag == "td"

    def handle_data(self, data: str) -> None:
        if self.in_td:
            self.rows[-1].append(data)
            self.in_td = False


def test_the_demo_ledger_evaluates_and_keeps_history(tmp_path: Path) -> None:
    with running_emulator(seed="demo", state_dir=tmp_path / "emulator") as em:
        env = connector_env(tmp_path, em)
        since = (em.org.clock.now() - timedelta(days=120)).date().isoformat()
        for args in (("backfill", "--since", since), ("sync", "--once", "--daily")):
            done = subprocess.run(cli(*args), env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr
        now = em.org.clock.now().isoformat()
    report = tmp_path / "r.html"
    evaluated = subprocess.run(
        cli("evaluate", "--outcome", "intake", "--horizon", "14d", "--html", str(report), "--now", now),
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr
    page = _Cells()
    page.feed(report.read_text())
    assert page.svgs == 3
    evaluated_n = int(next(r for r in page.rows if r[0] == "overall" and len(r) > 1)[2])
    bands = [r for r in page.rows if r[0] == "bands" and len(r) > 1]
    assert evaluated_n > 0
    assert sum(int(r[2]) for r in bands) == evaluated_n
    with Ledger(tmp_path / "state" / "ledger.db") as ledger:
        contact = ledger.db.execute("SELECT contact_id FROM contact_history LIMIT 1").fetchone()[0]
    shown = subprocess.run(
        cli("history", contact, "--csv"), env=env, capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    assert len(shown.stdout.splitlines()) == 2  # the header and the one nightly pass


def test_the_live_demo_runs_nightly_passes_and_ends_on_a_report_with_a_signal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "demo", "--pace", "0")
    assert code == 0
    with Ledger(tmp_path / "state" / "demo" / "ledger.db") as ledger:
        newest = ledger.db.execute("SELECT max(at) FROM events").fetchone()[0]
    # The demo replays the last days: nothing it made lies in the future of a command run after it.
    assert from_micros(newest) <= datetime.now(UTC)
    nightly = int(out.split("h org time (")[1].split(" nightly passes")[0])
    assert nightly >= 2  # 72 hours of org time cross `daily_pass_at` three times (a DST night aside)
    report = tmp_path / "state" / "demo" / "evaluation.html"
    assert f"Report (plots, opens offline): {report}" in out
    text = report.read_text()
    page = _Cells()
    page.feed(text)
    assert page.svgs == 3
    assert "://" not in text  # no address at all: nothing to fetch (the screenshot below has no network)
    assert not any(f"<{tag}" in text for tag in ("script", "link", "img", "iframe", "object", "embed"))
    rates = {r[1]: r for r in page.rows if r[0] == "bands" and len(r) > 1}
    hot, cold = (int(rates[b][3]) / int(rates[b][2]) for b in ("hot", "cold"))  # outcomes / n
    assert hot > 3 * cold  # the seed relates engagement and placement: a real difference between bands
    assert "Does the band predict placement?" in out
    _looks_like_a_report(screenshot(report, tmp_path / "report.png", tmp_path / "profile"))
    contact = out.split("Its history: ")[1].split(" history ")[1].split()[0]
    with Ledger(tmp_path / "state" / "demo" / "ledger.db") as ledger:
        rows = history_of(ledger, contact)
        contacts = [r[0] for r in ledger.db.execute("SELECT DISTINCT contact_id FROM contact_history")]
        assert len(contacts) > 100
        assert all(len(history_of(ledger, c)) == nightly for c in contacts[:50])  # a row per pass
    assert len(rows) == nightly
    assert len({row.band for row in rows}) > 1  # the contact it points at moved between bands


def _looks_like_a_report(picture: Picture) -> None:
    """As a user sees it: three plot panels one under the other, each with its bars or curve drawn in
    the report's blue, then the band table's text below them (rendered with no network at all)."""
    panel, blue, ink = (0xFA, 0xFA, 0xFA), (0x1F, 0x6F, 0xEB), (0x20, 0x20, 0x20)

    def near(rgb: tuple[int, int, int], to: tuple[int, int, int], by: int) -> bool:
        return all(abs(a - b) <= by for a, b in zip(rgb, to, strict=True))

    inside = [y for y in range(picture.height) if picture.pixel(40, y) == panel]  # left of each y axis
    panels = [[inside[0]]] if inside else []
    for y in inside[1:]:
        (panels[-1].append(y) if y == panels[-1][-1] + 1 else panels.append([y]))
    panels = [rows for rows in panels if len(rows) > 200]  # a text's anti-aliasing may match a row or two
    assert len(panels) == 3, [(r[0], r[-1]) for r in panels]
    for rows in panels:
        drawn = sum(near(picture.pixel(x, y), blue, 40) for y in rows for x in range(0, picture.width, 2))
        assert drawn > 300, (rows[0], drawn)  # bars or a curve, not only the legend's square
    text = range(panels[-1][-1] + 20, picture.height)
    assert sum(near(picture.pixel(x, y), ink, 60) for y in text for x in range(0, 600, 3)) > 500
