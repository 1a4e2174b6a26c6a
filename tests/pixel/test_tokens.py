"""Contact tokens v2: key ids, rotation, expiry, the v1 setting; and what one leaked token can cost."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from connector.events import WEB_VISIT
from connector.ledger import Ledger
from connector.pixel.hits import Reason
from connector.pixel.tokens import Keyring, key_id, sign_token, sign_token_v1
from connector.shell.pixel import ingest_files, make_token
from tests.pixel.helpers import LATER, SECRET, T0, consent, hit, settings, write_hits

OLD, NEW = b"the-old-secret-0123456789", b"the-new-secret-0123456789"
SITE = "www.example-agency.nl"


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(tmp_path / "ledger.db") as opened:
        yield opened


def test_a_v2_token_names_its_key_and_verifies_only_untampered() -> None:
    token = sign_token("003A", NEW)
    version, kid, contact, expiry, _ = token.split(".")
    assert (version, kid, contact, expiry) == ("2", key_id(NEW), "003A", "0")
    ring = Keyring((NEW,))
    assert ring.check(token, T0) == "003A"
    assert ring.check(token.replace(".003A.", ".003B."), T0) is Reason.FORGED_TOKEN
    assert ring.check(token.replace(".0.", ".zzzzzz."), T0) is Reason.FORGED_TOKEN  # a longer life, forged
    assert ring.check(token[:-1] + ("A" if token[-1] != "A" else "B"), T0) is Reason.FORGED_TOKEN
    assert Keyring((OLD,)).check(token, T0) is Reason.FORGED_TOKEN
    assert ring.check("2.é.003A.0.x", T0) is Reason.FORGED_TOKEN


def test_a_rotated_secret_still_accepts_links_signed_with_the_previous_one() -> None:
    sent_before = sign_token("003A", OLD)
    rotated = Keyring((NEW, OLD))
    assert rotated.check(sent_before, T0) == "003A"
    assert rotated.sign("003A").split(".")[1] == key_id(NEW)  # new links use the newest secret
    assert Keyring((NEW,)).check(sent_before, T0) is Reason.FORGED_TOKEN  # once dropped, it is gone


def test_old_format_tokens_are_accepted_or_refused_by_the_setting() -> None:
    v1 = sign_token_v1("003A", OLD)
    assert Keyring((NEW, OLD)).check(v1, T0) == "003A"
    assert Keyring((NEW, OLD), accept_v1=False).check(v1, T0) is Reason.FORGED_TOKEN


def test_an_expired_token_is_counted_as_expired(ledger: Ledger, tmp_path: Path) -> None:
    token = sign_token("003A", SECRET.encode(), expires=T0 + timedelta(minutes=5))
    assert Keyring((SECRET.encode(),)).check(token, T0) == "003A"
    consent(ledger, "003A")
    log = write_hits(
        tmp_path / "hits.ndjson",
        [hit(1, url=f"/?mt={token}", visitor="v-early"), hit(6, url=f"/?mt={token}", visitor="v-late")],
    )
    report = ingest_files(ledger, settings(), [log], LATER)
    assert (report.counts.credited, report.counts.rejected[Reason.EXPIRED_TOKEN]) == (1, 1)


def test_pixel_token_signs_with_the_configured_lifetime() -> None:
    pixel = settings(token_days=30)
    token = make_token(pixel, "003A", T0)
    ring = Keyring((SECRET.encode(),))
    assert ring.check(token, T0 + timedelta(days=30)) == "003A"
    assert ring.check(token, T0 + timedelta(days=30, seconds=1)) is Reason.EXPIRED_TOKEN
    assert make_token(settings(), "003A", T0).split(".")[3] == "0"


def test_rotation_through_settings_keeps_links_already_sent(ledger: Ledger, tmp_path: Path) -> None:
    old_link = sign_token("003A", SECRET.encode())
    rotated = settings().model_copy(
        update={
            "token_secret": SecretStr("a-brand-new-secret-0123456789"),
            "token_previous_secrets": (SecretStr(SECRET),),
        }
    )
    consent(ledger, "003A")
    log = write_hits(tmp_path / "hits.ndjson", [hit(1, url=f"/?mt={old_link}")])
    assert ingest_files(ledger, rotated, [log], LATER).counts.credited == 1


def test_a_token_replayed_on_a_foreign_host_is_not_a_visit(ledger: Ledger, tmp_path: Path) -> None:
    consent(ledger, "003A")
    token = sign_token("003A", SECRET.encode())
    log = write_hits(tmp_path / "hits.ndjson", [hit(1, url=f"https://evil.example/login?mt={token}")])
    report = ingest_files(ledger, settings(site_hosts=(SITE,)), [log], LATER)
    assert (report.counts.rejected[Reason.FOREIGN_HOST], report.added, report.counts.visits) == (1, 0, 0)


def test_500_visitor_ids_for_one_token_give_at_most_the_cap_of_visits(ledger: Ledger, tmp_path: Path) -> None:
    consent(ledger, "003A")
    token = sign_token("003A", SECRET.encode())
    lines = [hit(i / 10, url=f"https://{SITE}/?mt={token}", visitor=f"attacker-{i:04d}") for i in range(500)]
    log = write_hits(tmp_path / "hits.ndjson", lines)
    pixel = settings(site_hosts=(SITE,), max_visitors_per_contact_day=5, max_visits_per_contact_day=20)
    report = ingest_files(ledger, pixel, [log], LATER).as_dict()
    visits = [e for e in ledger.events_of(["003A"])["003A"] if e.kind == WEB_VISIT]
    assert len(visits) == report["visits"] == 5
    assert report["rejected"]["over_cap"] == 495
    assert report["lines"] == report["credited"] + report["waiting"] + sum(report["rejected"].values())
    # The other cap: one visitor id, many visits (more than the idle time between each), three days on.
    many = [
        hit(3 * 24 * 60 + i * 31, url=f"https://{SITE}/?mt={token}", visitor="one-cookie") for i in range(25)
    ]
    log2 = write_hits(tmp_path / "more.ndjson", many)
    again = ingest_files(ledger, pixel, [log2], LATER + timedelta(days=5)).as_dict()
    assert (again["visits"], again["rejected"]["over_cap"]) == (20, 5)


def test_a_line_seal_verifies_only_its_own_fields_and_is_never_a_token() -> None:
    ring, rotated = Keyring((OLD,)), Keyring((NEW, OLD))
    fields = ["2026-03-02T09:00:00Z", "https://site.nl/", "", "agent", "192.0.2.0", "cookie-1", "003A"]
    seal = ring.seal(fields)
    assert ring.unseal(fields, seal)
    assert rotated.unseal(fields, seal)
    assert not Keyring((NEW,)).unseal(fields, seal)
    for i in range(len(fields)):
        assert not ring.unseal([*fields[:i], fields[i] + "x", *fields[i + 1 :]], seal)
    shifted = [*fields[:2], fields[3], fields[2], *fields[4:]]  # the agent moved into the referrer
    assert not ring.unseal(shifted, seal)
    assert not ring.unseal(fields, seal + "é")
    assert not ring.unseal(fields, "")
    kid, signature = seal.split(".")
    assert ring.check(f"2.{kid}.003A.0.{signature}", T0) is Reason.FORGED_TOKEN


def test_the_day_caps_hold_across_runs_and_start_afresh_the_next_day(ledger: Ledger, tmp_path: Path) -> None:
    # A daemon reading a leaked token's hits as they come: 12 runs a day, each a few new visitor ids.
    consent(ledger, "003A")
    token = sign_token("003A", SECRET.encode())
    pixel = settings(site_hosts=(SITE,), max_visitors_per_contact_day=5, max_visits_per_contact_day=8)
    log = tmp_path / "hits.ndjson"
    totals = []
    for day in (0, 1):
        visits = over = 0
        for run in range(12):
            start = day * 24 * 60 + run * 40
            lines = [
                hit(start + j, url=f"https://{SITE}/?mt={token}", visitor=f"a-{day}-{run}-{j}")
                for j in range(3)
            ]
            write_hits(log, lines, mode="a")
            report = ingest_files(ledger, pixel, [log], T0 + timedelta(minutes=start + 2 + 31))
            visits, over = visits + report.counts.visits, over + report.counts.rejected[Reason.OVER_CAP]
            assert report.counts.lines == 3  # each run reads its own lines only
        totals.append((visits, over))
    assert totals == [(5, 31), (5, 31)]  # five visitor ids a day; the next day five again
    stored = [e for e in ledger.events_of(["003A"])["003A"] if e.kind == WEB_VISIT]
    assert sorted({e.at.date() for e in stored}) == [T0.date(), (T0 + timedelta(days=1)).date()]
    assert len(stored) == 10
    # The visits cap the same way: one cookie, a visit a run (more than the idle time apart), 12 runs.
    other = tmp_path / "one-cookie.ndjson"
    visits = 0
    for run in range(12):
        start = 3 * 24 * 60 + run * 40
        write_hits(other, [hit(start, url=f"https://{SITE}/?mt={token}", visitor="one-cookie")], mode="a")
        visits += ingest_files(ledger, pixel, [other], T0 + timedelta(minutes=start + 31)).counts.visits
    assert visits == 8
    # Reading a day's file again (a copy: new inode) adds nothing and does not use the cap up.
    copy = tmp_path / "copy.ndjson"
    copy.write_bytes(other.read_bytes())
    again = ingest_files(ledger, pixel, [copy], T0 + timedelta(days=3, hours=12))
    assert (again.added, again.duplicates, again.counts.rejected[Reason.OVER_CAP]) == (0, 8, 4)


def test_the_day_counts_go_with_a_withdrawn_consent_and_with_the_window(
    ledger: Ledger, tmp_path: Path
) -> None:
    consent(ledger, "003A")
    consent(ledger, "003B")
    lines = [hit(0, url=f"/?mt={sign_token(c, SECRET.encode())}", visitor=f"v-{c}") for c in ("003A", "003B")]
    ingest_files(ledger, settings(), [write_hits(tmp_path / "a.ndjson", lines)], LATER)
    day_rows = "SELECT contact_id, day, visitor_id FROM pixel_day_visits ORDER BY 1"
    assert list(ledger.db.execute(day_rows)) == [
        ("003A", "2026-03-02", "v-003A"),
        ("003B", "2026-03-02", "v-003B"),
    ]
    consent(ledger, "003B", yes=False, at=LATER)
    ingest_files(ledger, settings(), [write_hits(tmp_path / "b.ndjson", [])], LATER)
    assert [row[0] for row in ledger.db.execute(day_rows)] == ["003A"]
    ingest_files(ledger, settings(attribution_days=2), [tmp_path / "b.ndjson"], T0 + timedelta(days=3))
    assert list(ledger.db.execute(day_rows)) == []


def test_a_token_in_a_referrer_does_not_survive_in_pending_hits(ledger: Ledger, tmp_path: Path) -> None:
    token = sign_token("003NOCONSENT", SECRET.encode())
    line = hit(1, url=f"https://{SITE}/over-ons?name=Jan&phone=0612345678", visitor="anonymous-visitor")
    line["referrer"] = f"https://{SITE}/vacatures?mt={token}"
    ingest_files(
        ledger, settings(), [write_hits(tmp_path / "hits.ndjson", [line])], T0 + timedelta(minutes=2)
    )
    assert list(ledger.db.execute("SELECT url, referrer FROM pixel_pending")) == [
        (f"https://{SITE}/over-ons", SITE)
    ]
