"""The daemon's cycle service: the pixel's sources, crawler verdicts kept, the one error policy applied."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from connector.config import Settings
from connector.ledger import Ledger
from connector.sf.port import OrgPort
from connector.shell.service import CycleService
from tests.pixel.helpers import LATER, hit, settings, write_hits


def test_crawler_verdicts_outlive_a_cycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "pixel"
    folder.mkdir()
    log = write_hits(folder / "hits.ndjson", [hit(0)])
    service = CycleService(
        Settings(pixel=settings(folder=folder)), lambda: Ledger(tmp_path / "l.db"), cast(OrgPort, None)
    )
    asked: list[str] = []
    detect = service.crawlers._detect.is_crawler
    monkeypatch.setattr(
        service.crawlers._detect, "is_crawler", lambda agent: asked.append(agent) or detect(agent)
    )
    (files,) = service.other_sources()
    with Ledger(tmp_path / "l.db") as ledger:
        files.run(ledger, LATER)
        write_hits(log, [hit(1)], mode="a")
        second = files.run(ledger, LATER)
    assert second.read == 1
    assert len(asked) == 1  # the browser was judged once, in the first cycle
