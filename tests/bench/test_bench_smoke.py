"""The benchmark scripts run end to end at a tiny size and report sane figures (never speed targets)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from connector.config import load_settings
from connector.ledger import Ledger
from connector.shell import rescore as jobs

BENCH = Path(__file__).resolve().parents[2] / "bench"
EXAMPLE = BENCH.parent / "connector" / "config.example.toml"


def load(name: str) -> ModuleType:
    """A bench script as a module (bench/ is scripts, not a package)."""
    if (loaded := sys.modules.get(f"bench_{name}")) is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_generator_is_seeded_time_ordered_and_spread_over_contacts() -> None:
    make_ledger = load("make_ledger")
    events = list(make_ledger.generate(30, 600))
    assert events == list(make_ledger.generate(30, 600))
    assert [e.at for e in events] == sorted(e.at for e in events)
    assert len({e.contact_id for e in events}) == 30
    assert {e.kind for e in events} >= {"web.visit", "email.opened", "application.step"}


def test_make_ledger_then_rescore_report_consistent_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ledger.db"
    built = load("make_ledger").main([str(path), "--contacts", "40", "--events", "2000", "--chunk", "700"])
    assert built["events"] == built["added"] == 2000
    assert built["ledger_rate"] > 0
    assert built["bare_rate"] > 0
    assert built["ratio"] > 0
    assert not list(tmp_path.glob("ledger.db.bare*"))  # the baseline cleans up after itself

    figures = load("rescore").main([str(path), "--repeat", "2", "--new", "25"])
    assert figures["events"] == 2000
    assert figures["contacts"] == 40
    assert figures["full_1_changed"] == 40  # the first full re-score stores every contact
    assert figures["full_2_changed"] == 0  # a repeat at the same `now` writes nothing
    assert figures["full_1_peak_rss_mb"] > 0
    assert figures["incremental_events"] == 25
    assert 1 <= figures["incremental_scored"] <= 25  # only contacts with new events, not all 40
    assert '"bare_scan_s"' in capsys.readouterr().out


def test_full_rescore_in_two_processes_stores_what_one_process_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_ledger = load("make_ledger")
    settings = load_settings(EXAMPLE)
    now = make_ledger.NOW
    for name in ("one", "two"):
        make_ledger.build(tmp_path / f"{name}.db", 60, 3000, baseline=False)
    monkeypatch.setattr(jobs, "PARALLEL_FROM", 1)  # the helper process normally starts at 100k contacts
    with Ledger(tmp_path / "one.db") as one, Ledger(tmp_path / "two.db") as two:
        single = jobs.rescore(one, settings, now, everyone=True, workers=1)
        seen: list[int] = []
        double = jobs.rescore(two, settings, now, everyone=True, workers=2, progress=seen.append)
        assert single == double == jobs.RescoreResult(60, 60)
        assert sum(seen) == 60
        assert len(seen) >= 2  # this process's range and the helper's came back separately
        assert one.states() == two.states()
        assert one.dirty_contacts() == two.dirty_contacts() == []


def test_pixel_bench_times_every_format_and_its_counts_add_up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["pixel_bench.py", "--lines", "3000", "--repeat", "1"])
    load("pixel_bench").main()  # asserts lines == credited + waiting + rejected itself
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == ["ndjson", "csv", "combined"]
    assert all("lines/s" in line and "waiting" in line for line in out)


def test_pixel_ingest_bench_runs_first_poll_and_idle_through_the_ledger(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.syspath_prepend(str(BENCH))  # it imports the generator from pixel_bench
    monkeypatch.setattr(sys, "argv", ["pixel_ingest_bench.py", "--lines", "3000", "--format", "csv"])
    load("pixel_ingest_bench").main()
    out = capsys.readouterr().out.splitlines()
    first, poll, idle = [line for line in out if line.startswith("csv ")]  # log lines aside
    assert first.split()[:4] == ["csv", "first", "3,000", "lines"]
    assert poll.split()[:4] == ["csv", "poll", "2,000", "lines"]
    assert "events added 0," not in poll  # an hour later the open visits have ended
    assert idle.split()[:3] == ["csv", "idle", "0"]
    assert "events added 0," in idle  # nothing new: nothing added
