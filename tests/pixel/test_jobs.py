"""The pixel shell on a real ledger: consent gating, idempotent re-ingest, rotation, one transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import responses
from structlog.testing import capture_logs
from typer.testing import CliRunner

from connector.config.pixel import PixelApi
from connector.entry.cli import app, main
from connector.errors import ConfigError
from connector.events import WEB_JOB_VIEW, WEB_VISIT, Event
from connector.ledger import Ledger
from connector.ledger.pixel_state import (
    StoredPixelState,
    append_with_pixel_state,
    consented_contacts,
    load_file_rows,
    load_pixel_state,
)
from connector.ledger.sync_state import purge_contacts
from connector.shell.pixel import ingest_api, ingest_files, unread_bytes
from tests.pixel.helpers import (
    JOB,
    LATER,
    POISON_IP,
    SECRET,
    T0,
    all_rows,
    consent,
    hit,
    poison_parsers,
    settings,
    token,
    write_hits,
)

VACANCY = f"https://www.example-agency.nl/vacatures/{JOB}"


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(tmp_path / "ledger.db") as opened:
        yield opened


def kinds(ledger: Ledger, contact: str) -> list[str]:
    return sorted(e.kind for e in ledger.events_of([contact]).get(contact, []))


def balanced(report: dict[str, object]) -> bool:
    rejected = report["rejected"]
    assert isinstance(rejected, dict)
    return report["lines"] == report["credited"] + report["waiting"] + sum(rejected.values())


def test_a_consented_contact_gets_a_visit_and_a_job_view(ledger: Ledger, tmp_path: Path) -> None:
    consent(ledger, "003A")
    log = write_hits(
        tmp_path / "hits.ndjson",
        [hit(0), hit(2, url=f"{VACANCY}?mt={token('003A')}"), hit(3, url=VACANCY)],
    )
    report = ingest_files(ledger, settings(), [log], LATER)
    assert kinds(ledger, "003A") == ["contact.updated", WEB_JOB_VIEW, WEB_VISIT]
    (visit,) = [e for e in ledger.events_of(["003A"])["003A"] if e.kind == WEB_VISIT]
    assert visit.attrs["pages"] == 3
    assert visit.attrs["duration"] == 180
    assert "mt=" not in json.dumps(all_rows(ledger))  # the token never lands in a stored URL
    assert (report.counts.credited, report.added) == (3, 2)
    assert balanced(report.as_dict())


def test_a_non_consented_contact_leaves_no_row_anywhere(ledger: Ledger, tmp_path: Path) -> None:
    consent(ledger, "003YES")
    consent(ledger, "003NO", yes=False)
    consent(ledger, "003LATER")
    consent(ledger, "003LATER", yes=False, at=T0 + timedelta(hours=1))  # the latest answer wins
    before = all_rows(ledger)
    log = write_hits(
        tmp_path / "hits.ndjson",
        [
            hit(0, visitor="secret-visitor", url="https://www.example-agency.nl/private-page"),
            hit(1, visitor="secret-visitor", url=f"{VACANCY}?mt={token('003NO')}"),
            hit(2, visitor="secret-visitor", url="https://www.example-agency.nl/after"),
            hit(3, visitor="late-visitor", url=f"https://www.example-agency.nl/x?mt={token('003LATER')}"),
            hit(4, visitor="unknown-contact", url=f"https://www.example-agency.nl/y?mt={token('003NEVER')}"),
        ],
    )
    report = ingest_files(ledger, settings(), [log], LATER)
    assert report.counts.rejected["no_consent"] == 5
    after = all_rows(ledger)
    changed = {table: rows for table, rows in after.items() if table not in ("pixel_files", "migrations")}
    assert changed == {t: rows for t, rows in before.items() if t in changed}
    dump = json.dumps(after, default=str)
    for trace in ("003NEVER", "secret-visitor", "late-visitor", "unknown-contact", "private-page", "/after"):
        assert trace not in dump
    assert balanced(report.as_dict())


def test_reingesting_the_same_logs_adds_nothing(ledger: Ledger, tmp_path: Path) -> None:
    consent(ledger, "003A")
    hits = [hit(0, url=f"{VACANCY}?mt={token('003A')}"), hit(40), hit(41, visitor="anon")]
    log = write_hits(tmp_path / "hits.ndjson", hits)
    first = ingest_files(ledger, settings(), [log], LATER)
    rows = all_rows(ledger)
    again = ingest_files(ledger, settings(), [log], LATER)
    assert (first.added, again.added, again.counts.lines) == (3, 0, 0)  # two visits, one job view
    # A copy of the same log (another file, so read again in full) still adds nothing.
    copy = write_hits(tmp_path / "copy.ndjson", hits)
    from_copy = ingest_files(ledger, settings(), [copy], LATER)
    assert (from_copy.counts.lines, from_copy.added, from_copy.duplicates) == (3, 0, 3)
    without_files = {t: r for t, r in all_rows(ledger).items() if t not in ("pixel_files", "cursors")}
    assert without_files == {t: r for t, r in rows.items() if t not in ("pixel_files", "cursors")}


def test_anonymous_hits_of_an_earlier_run_are_credited_when_the_token_arrives(
    ledger: Ledger, tmp_path: Path
) -> None:
    consent(ledger, "003A")
    log = write_hits(tmp_path / "hits.ndjson", [hit(0), hit(5, url=VACANCY)])
    first = ingest_files(ledger, settings(), [log], T0 + timedelta(hours=1))
    assert (first.counts.waiting, first.added) == (2, 0)
    write_hits(log, [hit(24 * 60, url=f"https://www.example-agency.nl/?mt={token('003A')}")], mode="a")
    second = ingest_files(ledger, settings(), [log], LATER + timedelta(days=1))
    assert (second.counts.lines, second.counts.credited, second.counts.resolved) == (1, 1, 2)
    assert kinds(ledger, "003A") == ["contact.updated", WEB_JOB_VIEW, WEB_VISIT, WEB_VISIT]
    assert load_pixel_state(ledger).links == {"visitor-1": "003A"}


def pending_rows(ledger: Ledger) -> list[tuple[str, str]]:
    return sorted(
        (str(v), str(c)) for v, c in ledger.db.execute("SELECT visitor_id, contact_id FROM pixel_pending")
    )


def test_runs_of_other_visitors_leave_a_waiting_hit_alone_until_its_token_comes(
    ledger: Ledger, tmp_path: Path
) -> None:
    consent(ledger, "003A")
    log = write_hits(tmp_path / "hits.ndjson", [hit(0, visitor="v-a")])
    ingest_files(ledger, settings(), [log], T0 + timedelta(hours=1))
    write_hits(log, [hit(60 * i, visitor="v-b") for i in range(2, 5)], mode="a")
    other = ingest_files(ledger, settings(), [log], T0 + timedelta(hours=5))
    assert (other.counts.waiting, other.counts.expired) == (3, 0)
    assert pending_rows(ledger) == [("v-a", "")] + [("v-b", "")] * 3  # v-a's hit kept while unread
    write_hits(log, [hit(600, visitor="v-a", url=f"/?mt={token('003A')}")], mode="a")
    linked = ingest_files(ledger, settings(), [log], LATER)
    assert (linked.counts.credited, linked.counts.resolved) == (1, 1)
    assert pending_rows(ledger) == [("v-b", "")] * 3
    assert kinds(ledger, "003A").count(WEB_VISIT) == 2


def test_waiting_hits_of_visitors_not_seen_again_age_out_and_are_counted(
    ledger: Ledger, tmp_path: Path
) -> None:
    log = write_hits(tmp_path / "hits.ndjson", [hit(0, visitor="v-a"), hit(1, visitor="v-a")])
    ingest_files(ledger, settings(attribution_days=1), [log], T0 + timedelta(hours=1))
    write_hits(log, [hit(3 * 24 * 60, visitor="v-b")], mode="a")
    report = ingest_files(ledger, settings(attribution_days=1), [log], T0 + timedelta(days=3, hours=1))
    assert report.counts.expired == 2
    assert pending_rows(ledger) == [("v-b", "")]


def test_a_waiting_hit_that_joins_an_open_visit_is_stored_with_its_contact(
    ledger: Ledger, tmp_path: Path
) -> None:
    consent(ledger, "003A")
    log = write_hits(tmp_path / "hits.ndjson", [hit(0)])
    ingest_files(ledger, settings(), [log], T0 + timedelta(minutes=1))
    write_hits(log, [hit(5, url=f"/?mt={token('003A')}")], mode="a")
    ingest_files(ledger, settings(), [log], T0 + timedelta(minutes=6))  # the visit is still open
    assert pending_rows(ledger) == [("visitor-1", "003A")] * 2
    ingest_files(ledger, settings(), [log], LATER)
    (visit,) = [e for e in ledger.events_of(["003A"])["003A"] if e.kind == WEB_VISIT]
    assert visit.attrs["pages"] == 2
    assert pending_rows(ledger) == []


def test_a_visit_split_across_runs_becomes_one_visit(ledger: Ledger, tmp_path: Path) -> None:
    consent(ledger, "003A")
    log = write_hits(tmp_path / "hits.ndjson", [hit(0, url=f"/?mt={token('003A')}"), hit(10)])
    open_run = ingest_files(ledger, settings(), [log], T0 + timedelta(minutes=11))
    assert (open_run.added, open_run.counts.open_hits) == (0, 2)
    write_hits(log, [hit(25)], mode="a")
    ingest_files(ledger, settings(), [log], LATER)
    (visit,) = [e for e in ledger.events_of(["003A"])["003A"] if e.kind == WEB_VISIT]
    assert visit.attrs["pages"] == 3
    assert load_pixel_state(ledger).pending == []


def test_a_rotated_log_is_neither_reread_nor_skipped(ledger: Ledger, tmp_path: Path) -> None:
    consent(ledger, "003A")
    log = write_hits(tmp_path / "access.ndjson", [hit(0, url=f"/?mt={token('003A')}")])
    ingest_files(ledger, settings(), [log], LATER)
    write_hits(log, [hit(60)], mode="a")  # written just before rotation
    log.rename(tmp_path / "access.ndjson.1")
    write_hits(log, [hit(120)])
    report = ingest_files(ledger, settings(), [tmp_path / "access.ndjson.1", log], LATER)
    assert report.counts.lines == 2
    assert report.files == {str(tmp_path / "access.ndjson.1"): "appended", str(log): "new"}
    assert kinds(ledger, "003A").count(WEB_VISIT) == 3


def test_every_rejection_reason_is_counted_and_the_counts_add_up(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    consent(ledger, "003A")
    poison_parsers(monkeypatch)
    lines = [
        json.dumps(hit(0, url=f"/?mt={token('003A')}")),
        "{broken",
        json.dumps({"url": "/x"}),
        json.dumps(hit(1, time="later")),
        "x" * 10_000,
        "",
        json.dumps(hit(2, user_agent="Googlebot/2.1 (+http://www.google.com/bot.html)")),
        json.dumps(hit(3, url=f"/?mt={token('003NO')}", visitor="v-no")),
        json.dumps(hit(4, url="/?mt=003A.forged", visitor="v-forged")),
        json.dumps(hit(5, visitor="")),
        json.dumps(hit(6, visitor="v-anonymous")),
        json.dumps(hit(6.5, ip=POISON_IP)),
        json.dumps(hit(6.6, url=f"/?mt={token('003A', expires=T0)}", visitor="v-expired")),
        json.dumps(hit(6.7, url="https://evil.example/login", visitor="v-foreign")),
    ] + [json.dumps(hit(7 + i / 100, visitor="scraper")) for i in range(61)]
    log = tmp_path / "hits.ndjson"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    site = settings(site_hosts=("www.example-agency.nl",), max_visits_per_contact_day=1)
    report = ingest_files(ledger, site, [log], T0 + timedelta(hours=2)).as_dict()
    assert report["rejected"] == {
        "malformed": 1, "missing_field": 1, "bad_time": 1, "oversized": 1, "not_a_hit": 1, "bot": 1,
        "implausible_rate": 61, "forged_token": 1, "expired_token": 1, "foreign_host": 1, "over_cap": 0,
        "no_consent": 1, "unknown_visitor": 1, "parser_crash": 1,
    }  # fmt: skip
    assert (report["credited"], report["waiting"], report["lines"]) == (1, 1, 75)
    assert balanced(report)


def test_events_and_state_are_stored_in_one_transaction(ledger: Ledger) -> None:
    def failing() -> Iterator[Event]:
        raise RuntimeError("disk gone")
        yield  # pragma: no cover

    state = StoredPixelState(files=[("1:2", "x.log", 10, "h", 1)], links={"v": "003A"})
    with pytest.raises(RuntimeError):
        append_with_pixel_state(ledger, failing(), state, {"pixel.api": "c1"}, at=T0)
    assert load_pixel_state(ledger) == StoredPixelState()
    assert ledger.cursor("pixel.api") is None


@responses.activate
def test_the_api_cursor_is_committed_with_the_events(ledger: Ledger) -> None:
    consent(ledger, "003A")
    api = PixelApi(url="https://pixel.example.com/hits", field_map={"time": "ts", "url": "page"})
    first = {
        "ts": "2026-03-02T09:00:00Z",
        "page": f"/?mt={token('003A')}",
        "visitor_id": "v1",
        "user_agent": "Mozilla/5.0",
    }
    responses.get(api.url, json={"hits": [first], "next_cursor": "c1"})
    responses.get(api.url, json={"hits": [], "next_cursor": None})
    report = ingest_api(ledger, settings(api=api), requests.Session(), LATER)
    assert (report.added, ledger.cursor("pixel.api")) == (1, "c1")
    assert kinds(ledger, "003A") == ["contact.updated", WEB_VISIT]


def test_pixel_ingest_json_prints_counts_that_add_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSR_ENGAGE_PIXEL__TOKEN_SECRET", SECRET)
    log = write_hits(tmp_path / "hits.ndjson", [hit(0), hit(1, user_agent="curl/8.0"), hit(2, time="x")])
    with capture_logs() as logs:
        result = CliRunner().invoke(
            app, ["pixel", "ingest", str(log), "--json", "--now", "2026-03-03T00:00:00Z"]
        )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [entry["event"] for entry in logs] == ["pixel_ingest_done"]
    assert report["lines"] == 3
    assert balanced(report)


def test_pixel_ingest_reads_the_other_files_and_exits_2_for_one_it_cannot_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MSR_ENGAGE_PIXEL__TOKEN_SECRET", SECRET)
    good = write_hits(tmp_path / "hits.ndjson", [hit(0), hit(1)])
    (tmp_path / "old.ndjson").mkdir()
    with pytest.raises(SystemExit) as exited:
        main(["pixel", "ingest", str(tmp_path / "old.ndjson"), str(good), "--now", "2026-03-03T00:00:00Z"])
    assert exited.value.code == 2
    printed = capsys.readouterr()
    assert "lines 2: credited 0, waiting 2" in printed.out
    old = tmp_path / "old.ndjson"
    assert (
        f"input error: {old}: cannot read: a folder, not a hit file: name the files in it ({old}/*)"
        in printed.err
    )
    with Ledger(tmp_path / "state" / "ledger.db") as stored:
        assert [row[1] for row in load_file_rows(stored)] == [str(good)]  # its offset is kept


def test_pixel_token_needs_the_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    monkeypatch.delenv("MSR_ENGAGE_PIXEL__TOKEN_SECRET", raising=False)
    with pytest.raises(ConfigError, match="TOKEN_SECRET"):
        runner.invoke(app, ["pixel", "token", "003Dm0000000001"], catch_exceptions=False)
    monkeypatch.setenv("MSR_ENGAGE_PIXEL__TOKEN_SECRET", SECRET)
    result = runner.invoke(app, ["pixel", "token", "003Dm0000000001"])
    assert result.stdout.strip() == token("003Dm0000000001")


def test_a_token_secret_in_the_config_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[pixel]\ntoken_secret = "0123456789abcdef0123"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"must not be in config\.toml"):
        CliRunner().invoke(
            app, ["pixel", "token", "003Dm0000000001", "-c", str(config)], catch_exceptions=False
        )


def test_erasing_a_contact_leaves_no_pixel_row_about_them(ledger: Ledger, tmp_path: Path) -> None:
    consent(ledger, "003ERASED")
    log = write_hits(tmp_path / "hits.ndjson", [hit(0, url=f"/?mt={token('003ERASED')}"), hit(5)])
    ingest_files(ledger, settings(), [log], T0 + timedelta(minutes=6))  # linked, visit still open
    assert pending_rows(ledger) == [("visitor-1", "003ERASED")] * 2
    purge_contacts(ledger, ["003ERASED"])
    assert "003ERASED" not in json.dumps(all_rows(ledger), default=str)
    assert consented_contacts(ledger) == set()


def links_of(ledger: Ledger) -> dict[str, object]:
    return {str(v): c for v, c in ledger.db.execute("SELECT visitor_id, contact_id FROM pixel_visitors")}


def test_a_link_outlives_runs_of_other_visitors_and_not_a_withdrawn_consent(
    ledger: Ledger, tmp_path: Path
) -> None:
    consent(ledger, "003A")
    log = write_hits(tmp_path / "hits.ndjson", [hit(0, visitor="v-a", url=f"/?mt={token('003A')}")])
    ingest_files(ledger, settings(), [log], LATER)
    write_hits(log, [hit(60, visitor="v-b")], mode="a")
    ingest_files(ledger, settings(), [log], LATER)
    assert links_of(ledger) == {"v-a": "003A"}  # not read by that run, and kept
    write_hits(log, [hit(120, visitor="v-a")], mode="a")
    again = ingest_files(ledger, settings(), [log], LATER)
    assert again.counts.credited == 1  # the link still credits v-a's plain hits
    consent(ledger, "003A", yes=False, at=T0 + timedelta(hours=3))
    write_hits(log, [hit(240, visitor="v-b")], mode="a")
    ingest_files(ledger, settings(), [log], LATER)
    assert links_of(ledger) == {}  # withdrawn consent: gone, though v-a was not in that run


def test_progress_counts_the_bytes_a_run_reads_and_what_is_left_unread(
    ledger: Ledger, tmp_path: Path
) -> None:
    log = write_hits(tmp_path / "hits.ndjson", [hit(i) for i in range(5)])
    with log.open("a", encoding="utf-8") as out:
        out.write('{"time": "2026-03-02T09:')  # a line still being written
    size = log.stat().st_size
    partial = len('{"time": "2026-03-02T09:')
    assert unread_bytes(ledger, [log, tmp_path / "missing.log"]) == size
    done: list[int] = []
    ingest_files(ledger, settings(), [log], LATER, progress=done.append)
    assert sum(done) == size - partial  # complete lines only
    assert unread_bytes(ledger, [log]) == partial
