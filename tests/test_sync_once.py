"""`sync --once` runs what a daemon cycle runs, in a separate process against the emulator over HTTPS."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

from connector.emulator.testing import RunningEmulator
from connector.ledger import Ledger
from connector.ledger.sync_state import last_cycles
from tests.pixel.helpers import SECRET, hit, token, write_hits
from tests.test_daemon import cli, connector_env, live_org

__all__ = ["live_org"]  # the fixture, shared with the daemon's tests


def test_sync_once_reads_the_pixel_folder_and_daily_runs_the_nightly_pass(
    tmp_path: Path, live_org: RunningEmulator
) -> None:
    org = live_org.org
    env = connector_env(tmp_path, live_org)
    folder = tmp_path / "pixel"
    folder.mkdir()
    config = Path(env["MSR_ENGAGE_CONFIG"])
    config.write_text(config.read_text() + f'\n[pixel]\nfolder = "{folder}"\n')
    env["MSR_ENGAGE_PIXEL__TOKEN_SECRET"] = SECRET
    rt = org.record_types["Candidate"]
    fan = org.create("Contact", {"LastName": "Fan", "RecordTypeId": rt, "Tracking_Consent__c": True})
    first = subprocess.run(cli("sync", "--once"), env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    now = org.clock.now()
    visit = hit(0, url=f"https://agency.nl/?mt={token(fan)}", visitor="v-1")
    visit["time"] = (now - timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    write_hits(folder / "hits.ndjson", [visit])

    polled = subprocess.run(cli("sync", "--once"), env=env, capture_output=True, text=True, timeout=120)
    assert polled.returncode == 0, polled.stderr

    assert [r["Contact__c"] for r in org.records("Website_Visit__c")] == [fan]

    nightly = subprocess.run(
        cli("sync", "--once", "--daily"), env=env, capture_output=True, text=True, timeout=120
    )
    assert nightly.returncode == 0, nightly.stderr
    with Ledger(tmp_path / "state" / "ledger.db") as ledger:
        kinds = [c["kind"] for c in last_cycles(ledger, limit=3)]
    assert kinds == ["daily", "poll", "poll"]
