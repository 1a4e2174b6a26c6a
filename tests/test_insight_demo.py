"""On the demo org's ledger: `evaluate --html` exits 0 with bands that add up; `history` after a pass."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

from connector.emulator.testing import running_emulator
from connector.ledger import Ledger
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
