"""Our collector over real HTTP: hit files, consent and DNT, limits, no reflection, then the ledger."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from werkzeug.test import Client

from connector.config.pixel import Collector, PixelSettings
from connector.events import WEB_VISIT
from connector.ledger import Ledger
from connector.pixel.collector import GIF, CollectorApp, serve
from connector.shell.pixel import ingest_files
from tests.pixel.helpers import BROWSER, LATER, T0, consent, settings, token


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


SITE = ("www.example-agency.nl", "x.nl")
PUBLIC = "https://pixel.example-agency.nl"


def configured(tmp_path: Path, **collector: object) -> PixelSettings:
    base = settings(folder=tmp_path / "hits", site_hosts=SITE)
    options: dict[str, object] = {"port": 0, "public_url": PUBLIC, **collector}
    return base.model_copy(update={"collector": Collector(**options)})  # type: ignore[arg-type]


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[str, PixelSettings, Clock]]:
    pixel, clock = configured(tmp_path), Clock(T0)
    server = serve(pixel, clock)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", pixel, clock
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_page_view_through_the_collector_becomes_a_visit_in_the_ledger(
    running: tuple[str, PixelSettings, Clock], tmp_path: Path
) -> None:
    base, pixel, clock = running
    page = f"https://www.example-agency.nl/vacatures?mt={token('003A')}"
    with requests.Session() as http:
        http.headers["User-Agent"] = BROWSER
        first = http.get(
            f"{base}/p.gif", params={"u": page, "r": "https://mail.example", "v": "abcdef123456"}
        )
        clock.now = T0 + timedelta(minutes=3)
        http.get(f"{base}/p.gif", params={"u": "https://www.example-agency.nl/contact", "v": "abcdef123456"})
    assert (first.status_code, first.content, first.headers["Content-Type"]) == (200, GIF, "image/gif")
    files = sorted(pixel.collector_folder.glob("hits-*.ndjson"))
    assert [f.name for f in files] == ["hits-2026-03-02.ndjson"]
    assert '"ip":"127.0.0.0"' in files[0].read_text(encoding="utf-8")
    with Ledger(tmp_path / "ledger.db") as ledger:
        consent(ledger, "003A")
        report = ingest_files(ledger, pixel, files, LATER)
        visits = [e for e in ledger.events_of(["003A"])["003A"] if e.kind == WEB_VISIT]
    assert report.counts.credited == 2
    assert [(v.attrs["pages"], v.attrs["duration"]) for v in visits] == [(2, 180)]


def test_the_snippet_sets_a_cookie_only_after_consent_and_respects_do_not_track(
    running: tuple[str, PixelSettings, Clock],
) -> None:
    base, _, _ = running
    script = requests.get(f"{base}/p.js", timeout=5)
    assert script.headers["Content-Type"].startswith("application/javascript")
    text = script.text
    assert 'w["msrEngageConsent"]===true' in text
    assert text.index("if(c){") < text.index("d.cookie=k+")  # the cookie is written only under consent
    assert "doNotTrack" in text
    assert f'"{base}/p.gif"' not in text  # the endpoint comes from config, never from the request


def test_do_not_track_and_missing_pages_write_nothing(tmp_path: Path) -> None:
    pixel = configured(tmp_path)
    client = Client(CollectorApp(pixel, Clock(T0)))
    assert client.get("/p.gif?u=https://x.nl/", headers={"DNT": "1"}).data == GIF
    assert client.get("/p.gif", headers={"Sec-GPC": "1"}).status_code == 200
    assert client.get("/p.gif").status_code == 200  # no page at all: nothing to record
    assert not pixel.collector_folder.exists() or not any(pixel.collector_folder.iterdir())


def test_input_is_never_reflected_and_limits_hold(tmp_path: Path) -> None:
    pixel = configured(tmp_path, max_request_bytes=200, hits_per_minute_per_ip=2)
    clock = Clock(T0)
    client = Client(CollectorApp(pixel, clock))
    evil = "<script>alert(1)</script>"
    for path in (f"/{evil}", f"/p.js?x={evil}", f"/p.gif?u={evil}"):
        assert evil.encode() not in client.get(path).data
    assert client.get("/p.gif?u=" + "a" * 300).status_code == 414
    assert client.post("/p.gif", data=b"x").status_code == 405
    for _ in range(4):
        client.get("/p.gif?u=https://x.nl/&v=abcdef123456")
    lines = (pixel.collector_folder / "hits-2026-03-02.ndjson").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2  # within the rate limit; the script "page" was no web page at all
    clock.now = T0 + timedelta(minutes=1)  # the bucket refills with time
    client.get("/p.gif?u=https://x.nl/&v=abcdef123456")
    assert len((pixel.collector_folder / "hits-2026-03-02.ndjson").read_text().splitlines()) == 3


def test_the_collector_binds_to_loopback_by_default() -> None:
    assert Collector().host == "127.0.0.1"
