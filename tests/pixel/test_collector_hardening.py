"""The collector keeps nothing it may not: the attempts of the security review (issue 15), each a test."""

from __future__ import annotations

import json
import socket
import stat
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from pydantic import SecretStr
from werkzeug.serving import BaseWSGIServer
from werkzeug.test import Client

from connector.config.pixel import Collector, PixelSettings
from connector.errors import ConfigError
from connector.ledger import Ledger
from connector.pixel.collector import GIF, CollectorApp, collector_counts, serve
from connector.pixel.hits import Reason
from connector.shell.pixel import collector_server, ingest_files
from tests.pixel.helpers import BROWSER, LATER, SECRET, T0, all_rows, consent, settings, token

SITE = "www.example-agency.nl"
VISITOR = "abcdef1234567890"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def configured(tmp_path: Path, **collector: object) -> PixelSettings:
    base = settings(folder=tmp_path / "hits", site_hosts=(SITE,), keep_query_params=("page",))
    options: dict[str, object] = {"port": 0, "public_url": "https://pixel.example-agency.nl", **collector}
    return base.model_copy(update={"collector": Collector(**options)})  # type: ignore[arg-type]


def lines(pixel: PixelSettings) -> list[dict[str, str]]:
    return [
        json.loads(line)
        for path in sorted(pixel.collector_folder.glob("hits-*.ndjson"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[str, PixelSettings, Clock, BaseWSGIServer]]:
    pixel, clock = configured(tmp_path, request_timeout_seconds=0.3), Clock(T0)
    server = serve(pixel, clock)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", pixel, clock, server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_hits_of_every_kind_leave_no_address_token_or_query_in_files_logs_or_ledger(
    running: tuple[str, PixelSettings, Clock, BaseWSGIServer],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    base, pixel, _, server = running
    mt = token("003A")
    pages = [
        # (page, referrer, visitor): consented, tracked link, anonymous, query-laden, foreign host
        (
            f"https://{SITE}/vacatures?mt={mt}&email=jan@example.nl&page=2",
            f"https://mail.example/?mt={mt}",
            VISITOR,
        ),
        (f"https://{SITE}/over-ons?name=Jan&phone=0612345678", "", ""),
        (f"https://{SITE}/contact?mt={mt}", "https://www.google.com/search?q=jan+jansen", ""),
        (f"https://evil.example/login?mt={mt}", "", "zzzzzzzzzzzz1234"),
        (f"https://{SITE}/#frag?email=x@y.z", "", VISITOR),
    ]
    with requests.Session() as http:
        http.headers["User-Agent"] = BROWSER
        for page, referrer, visitor in pages:
            params = {"u": page, "r": referrer, **({"v": visitor} if visitor else {})}
            assert http.get(f"{base}/p.gif", params=params, timeout=5).content == GIF
        assert http.head(f"{base}/p.gif", params={"u": f"https://{SITE}/", "v": VISITOR}, timeout=5).ok
        # a forged and an expired token on the site: nothing written, each counted
        for bad in (mt[:-2] + "xx", token("003B", expires=T0 - timedelta(seconds=1))):
            assert http.get(f"{base}/p.gif", params={"u": f"https://{SITE}/?mt={bad}", "v": VISITOR}).ok
    written = lines(pixel)
    assert [(w["url"], w.get("contact", ""), w.get("visitor_id", "")) for w in written] == [
        (f"https://{SITE}/vacatures?page=2", "003A", VISITOR),
        (
            f"https://{SITE}/contact",
            "003A",
            "",
        ),  # a tracked link without consent: kept for the contact's consent
        (f"https://{SITE}/", "", VISITOR),
    ]  # the anonymous visitor, the foreign host, the HEAD request and the bad tokens left nothing
    assert all("token" not in w and ("seal" in w) == ("contact" in w) for w in written)
    assert [w["referrer"] for w in written] == ["mail.example", "www.google.com", ""]
    assert {w["ip"] for w in written} == {"127.0.0.0"}
    assert collector_counts(server) == {
        "expired_token": 1,
        "forged_token": 1,
        "foreign_host": 1,
        "no_consent": 1,
        "written": 3,
    }
    captured = capfd.readouterr()
    assert "127.0.0.1" not in captured.err + captured.out
    assert mt not in captured.err + captured.out
    folder = pixel.collector_folder
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}
    files = sorted(folder.iterdir())
    on_disk = "".join(p.read_text(encoding="utf-8") for p in files)
    with Ledger(tmp_path / "ledger.db") as ledger:
        consent(ledger, "003A")
        report = ingest_files(ledger, pixel, files, LATER)
        stored = repr(all_rows(ledger))
        ledger_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("ledger.db*"))
    assert report.counts.credited == 3  # the two tracked hits, and the consented visitor linked by them
    for leak in (mt, "email", "jan@example.nl", "0612345678", "127.0.0.1", "q=jan", "evil.example"):
        assert leak not in stored
        assert leak not in on_disk
        assert leak.encode() not in ledger_bytes
    for part in mt.split("."):  # not even the token's signature, anywhere
        assert len(part) < 8 or (part not in on_disk and part not in stored)


def test_a_contact_in_a_line_not_sealed_by_our_collector_is_refused(tmp_path: Path) -> None:
    pixel = configured(tmp_path)
    client = Client(CollectorApp(pixel, Clock(T0)))
    query = {"u": f"https://{SITE}/?mt={token('003A')}", "v": VISITOR}
    client.get("/p.gif", query_string=query, headers={"User-Agent": BROWSER})
    [genuine] = lines(pixel)
    forged = [
        {**genuine, "contact": "003B"},  # another contact under the genuine seal
        {**genuine, "url": f"https://{SITE}/other"},  # the seal covers the page too
        {k: v for k, v in genuine.items() if k != "seal"} | {"visitor_id": "attacker-cookie-1"},
        {**genuine, "seal": genuine["seal"].split(".")[0] + ".AAAAAAAAAAAAAAAAAAAAAA"},
        {**genuine, "token": token("003A")},  # our collector never writes a token beside a contact
    ]
    other = settings(folder=tmp_path / "other-secret", site_hosts=(SITE,))
    other = other.model_copy(update={"token_secret": SecretStr("another-secret-0123456789")})
    with (pixel.collector_folder / "hits-2026-03-02.ndjson").open("a", encoding="utf-8") as out:
        for line in forged:
            out.write(json.dumps(line) + "\n")
    with Ledger(tmp_path / "ledger.db") as ledger:
        consent(ledger, "003A")
        consent(ledger, "003B")
        report = ingest_files(ledger, pixel, sorted(pixel.collector_folder.iterdir()), LATER)
    assert report.counts.rejected[Reason.FORGED_TOKEN] == len(forged)
    assert report.counts.credited == 1  # the genuine line alone
    # A secret no longer configured (or someone else's) proves nothing either.
    with Ledger(tmp_path / "other.db") as ledger:
        consent(ledger, "003A")
        report = ingest_files(ledger, other, sorted(pixel.collector_folder.iterdir()), LATER)
    assert (report.counts.rejected[Reason.FORGED_TOKEN], report.counts.credited) == (len(forged) + 1, 0)


def test_a_rotated_secret_still_accepts_lines_sealed_with_the_previous_one(tmp_path: Path) -> None:
    pixel = configured(tmp_path)
    Client(CollectorApp(pixel, Clock(T0))).get(
        "/p.gif",
        query_string={"u": f"https://{SITE}/?mt={token('003A')}", "v": VISITOR},
        headers={"User-Agent": BROWSER},
    )
    rotated = pixel.model_copy(
        update={
            "token_secret": SecretStr("the-new-secret-0123456789"),
            "token_previous_secrets": (SecretStr(SECRET),),
        }
    )
    with Ledger(tmp_path / "ledger.db") as ledger:
        consent(ledger, "003A")
        report = ingest_files(ledger, rotated, sorted(pixel.collector_folder.iterdir()), LATER)
    assert report.counts.credited == 1


def test_the_collector_needs_the_token_secret(tmp_path: Path) -> None:
    bare = configured(tmp_path).model_copy(update={"token_secret": None})
    with pytest.raises(ConfigError, match="TOKEN_SECRET"):
        collector_server(bare)
    with pytest.raises(ValueError, match="TOKEN_SECRET"):
        CollectorApp(bare)


def test_a_token_replayed_on_a_foreign_host_writes_nothing(tmp_path: Path) -> None:
    pixel = configured(tmp_path)
    client = Client(CollectorApp(pixel, Clock(T0)))
    for visitor in ("attacker-cookie-1", ""):
        query = {"u": f"https://evil.example/login?mt={token('003A')}", "v": visitor}
        assert client.get("/p.gif", query_string=query).data == GIF
    assert lines(pixel) == []


def test_a_hit_with_neither_consent_nor_token_leaves_no_line(tmp_path: Path) -> None:
    pixel = configured(tmp_path)
    client = Client(CollectorApp(pixel, Clock(T0)))
    client.get("/p.gif", query_string={"u": f"https://{SITE}/?email=jan@example.nl", "r": f"https://{SITE}/"})
    client.get("/p.gif", query_string={"u": f"https://{SITE}/", "v": "short"})  # not a cookie of ours
    assert lines(pixel) == []


def test_the_snippet_and_the_server_need_an_https_public_url_and_site_hosts(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="https"):
        Collector(public_url="http://pixel.example-agency.nl")
    bare = settings(folder=tmp_path / "hits", site_hosts=(SITE,))
    assert Client(CollectorApp(bare)).get("/p.js").status_code == 404
    with pytest.raises(ConfigError, match="public_url"):
        collector_server(bare)
    no_hosts = configured(tmp_path).model_copy(update={"site_hosts": ()})
    with pytest.raises(ConfigError, match="site_hosts"):
        collector_server(no_hosts)


def test_behind_a_trusted_proxy_one_client_over_its_limit_does_not_stop_another(tmp_path: Path) -> None:
    pixel = configured(tmp_path, trusted_proxies=1, hits_per_minute_per_ip=2)
    client = Client(CollectorApp(pixel, Clock(T0)).wsgi())
    proxy = {"REMOTE_ADDR": "10.0.0.1"}

    def hit(client_ip: str, visitor: str) -> None:
        query = {"u": f"https://{SITE}/", "v": visitor}
        client.get("/p.gif", query_string=query, headers={"X-Forwarded-For": client_ip}, environ_base=proxy)

    for _ in range(10):
        hit("198.51.100.7", "flooder-cookie-1")
    for _ in range(2):
        hit("203.0.113.9", "another-cookie-1")
    written = lines(pixel)
    assert [w["ip"] for w in written] == ["198.51.100.0"] * 2 + ["203.0.113.0"] * 2
    # Without a trusted proxy the peer is the client: the proxy's one bucket would have stopped both.
    plain = configured(tmp_path / "plain", hits_per_minute_per_ip=2)
    client = Client(CollectorApp(plain, Clock(T0)).wsgi())
    for ip in ("198.51.100.7", "198.51.100.7", "203.0.113.9"):
        client.get(
            "/p.gif", query_string={"u": f"https://{SITE}/", "v": VISITOR}, headers={"X-Forwarded-For": ip}
        )
    assert len(lines(plain)) == 2


def test_half_open_connections_are_closed_by_the_socket_timeout(
    running: tuple[str, PixelSettings, Clock, BaseWSGIServer],
) -> None:
    base, pixel, _, _ = running
    port = int(base.rsplit(":", 1)[1])
    held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(100)]
    try:
        for sock in held:
            sock.sendall(b"GET /p.gif?u=https://")  # a request line never finished
        # Each recv returns b"" once the server closes the connection: the 0.3 s timeout, not ours (10 s).
        closed = [sock.recv(1024) for sock in held]
    finally:
        for sock in held:
            sock.close()
    assert all(answer == b"" or b" 408 " in answer or answer.startswith(b"HTTP/") for answer in closed)
    assert requests.get(f"{base}/p.js", timeout=5).status_code == 200  # still serving
    assert lines(pixel) == []


def test_hit_files_fully_read_are_deleted_after_the_retention(tmp_path: Path) -> None:
    pixel = configured(tmp_path, retention_days=2)
    clock = Clock(T0)
    client = Client(CollectorApp(pixel, clock))
    for day in range(4):
        clock.now = T0 + timedelta(days=day)
        client.get(
            "/p.gif", query_string={"u": f"https://{SITE}/", "v": VISITOR}, headers={"User-Agent": BROWSER}
        )
    folder = pixel.collector_folder
    assert len(list(folder.iterdir())) == 4
    with (folder / "hits-2026-03-02.ndjson").open("a") as out:
        out.write('{"time":"2026-03-02T10:00:00Z"')  # a line still being written
    with Ledger(tmp_path / "ledger.db") as ledger:
        ingest_files(ledger, pixel, sorted(folder.iterdir()), T0 + timedelta(days=5))
    # Days 3 and 4 are more than 2 days old and read to their end: gone. Day 2's last line is still
    # incomplete (kept for the next run), day 5 is within the retention.
    assert sorted(p.name for p in folder.iterdir()) == ["hits-2026-03-02.ndjson", "hits-2026-03-05.ndjson"]
