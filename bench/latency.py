"""Wall-clock latency of the real daemon: a step change in the org until the Contact field shows it.

Runs `msr-engage run` as a process against the emulator (real clock) and moves applications to
"Intake verwerkt" at random moments; prints each latency and the bound poll_interval + lag + cycle.
Usage: .venv/bin/python bench/latency.py [--moves 5] [--poll 10] [--lag 1]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from connector.emulator.testing import running_emulator

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"


def main(moves: int, poll: int, lag: int) -> list[float]:
    """Run the measurement; return the latencies in seconds."""
    with tempfile.TemporaryDirectory() as tmp, running_emulator(state_dir=Path(tmp) / "em") as em:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        config = Path(tmp) / "config.toml"
        config.write_text(
            EXAMPLE.read_text()
            + f'\n[salesforce]\nlogin_url = "{em.login_url}"\nauth = "client_credentials"\n'
            f'client_id = "{em.client_id}"\nca_bundle = "{em.ca_bundle}"\napi_version = "{em.api_version}"\n'
            f"lag_seconds = {lag}\nlookback_seconds = 30\n"
            f"\n[sync]\npoll_interval_seconds = {poll}\nhealth_port = {port}\n"
        )
        env = {**os.environ, "MSR_ENGAGE_CONFIG": str(config), "MSR_ENGAGE_HOME": f"{tmp}/state",
               "MSR_ENGAGE_SALESFORCE__CLIENT_SECRET": em.client_secret}  # fmt: skip
        org = em.org
        rt = org.record_types["Candidate"]
        job = org.create("msf__Job__c", {"Name": "Bench"})
        people = [org.create("Contact", {"LastName": f"L{i}", "RecordTypeId": rt}) for i in range(moves)]
        apps = [org.apply(p, job, "Websollicitatie") for p in people]
        daemon = subprocess.Popen([sys.executable, "-m", "connector", "run"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        latencies = []
        try:
            while True:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                time.sleep(0.1)
            rnd = random.Random(1)
            for person, app in zip(people, apps, strict=True):
                time.sleep(rnd.uniform(0, poll))  # a recruiter acts at any moment of the poll interval
                org.move_application(app, "Intake verwerkt")
                moved = time.monotonic()
                while (org.record("Contact", person) or {}).get("Medal__c") != "Bronze":
                    time.sleep(0.05)
                latencies.append(time.monotonic() - moved)
                print(f"step change → Contact field: {latencies[-1]:.1f} s")
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=30)
    return latencies


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--moves", type=int, default=5)
    parser.add_argument("--poll", type=int, default=10)
    parser.add_argument("--lag", type=int, default=1)
    args = parser.parse_args()
    found = main(args.moves, args.poll, args.lag)
    print(f"n={len(found)} median {statistics.median(found):.1f} s, max {max(found):.1f} s;"
          f" bound poll {args.poll} s + lag {args.lag} s + cycle")  # fmt: skip
