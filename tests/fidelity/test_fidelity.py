"""Clients nobody here wrote drive `msr-engage emulator serve`: jsforce and the Salesforce CLI.

A shared misunderstanding between the connector and its emulator is invisible to every other test;
these two speak Salesforce as Salesforce's own tools do. They come from tools/ (`make tools`, which
`make test` runs first); without them this module fails, it never skips. Every node process gets
tests/fidelity/loopback_only.cjs preloaded, which refuses (and logs) any connection or name lookup
other than loopback: telemetry, update checks and plugin lookups cannot leave the machine.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "node_modules"
SF = TOOLS / ".bin" / "sf"
HERE = Path(__file__).resolve().parent
GUARD = HERE / "loopback_only.cjs"
# Steps this org cannot serve yet (asserted to fail with NOT_FOUND). Empty since Bulk 2.0 query jobs
# (`jobs/query`, issue 14 part B) are served: every step is asserted like every other one.
PENDING_BULK_QUERY: frozenset[str] = frozenset()


@dataclass
class Served:
    """A running `emulator serve` and a sealed environment for node processes that talk to it."""

    info: dict[str, str]
    env: dict[str, str]
    work: Path
    net_log: Path

    def token(self) -> str:
        """A fresh access token (client credentials)."""
        response = requests.post(
            f"{self.info['login_url']}/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.info["client_id"],
                "client_secret": self.info["client_secret"],
            },
            verify=self.info["ca_bundle"],
            timeout=30,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def rest(self, path: str, **params: str) -> Any:
        """GET a REST resource of the org (version 59.0) with a fresh token."""
        response = requests.get(
            f"{self.info['instance_url']}/services/data/v59.0/{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.token()}"},
            verify=self.info["ca_bundle"],
            timeout=30,
        )
        response.raise_for_status()
        return response.json()


def _require_tools() -> None:
    missing = [p for p in (SF, TOOLS / "jsforce" / "package.json") if not p.exists()]
    if missing:
        pytest.fail(
            f"Salesforce's tools are not installed ({', '.join(map(str, missing))} missing): "
            "run `make tools` (npm ci in tools/); `make test` does it first",
            pytrace=False,
        )


def _node_env(home: Path, served: dict[str, str], net_log: Path) -> dict[str, str]:
    """Only what node needs: nothing from the outer environment can point the CLI elsewhere."""
    keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TZ", "TMPDIR")}
    return keep | {
        "PATH": f"{TOOLS / '.bin'}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "NODE_EXTRA_CA_CERTS": served["ca_bundle"],
        "NODE_OPTIONS": f"--require {GUARD}",
        "FIDELITY_NET_LOG": str(net_log),
        # The CLI's own switches for everything that would phone home or wait on a network.
        "SF_DISABLE_TELEMETRY": "true",
        # The CLI reads SF_AUTOUPDATE_DISABLE; oclif's update hook reads only SF_DISABLE_AUTOUPDATE and,
        # without it, spawns a detached `sf update --autoupdate` that outlives the test and later tries the
        # network.
        "SF_AUTOUPDATE_DISABLE": "true",
        "SF_DISABLE_AUTOUPDATE": "true",
        "SF_SKIP_NEW_VERSION_CHECK": "true",
        "SF_HIDE_RELEASE_NOTES": "true",
        "SF_HIDE_RELEASE_NOTES_FOOTER": "true",
        "SF_USE_GENERIC_UNIX_KEYCHAIN": "true",
        "SF_DISABLE_LOG_FILE": "true",
        "NO_COLOR": "1",
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`msr-engage emulator serve --seed demo` in a subprocess, stopped (by its pid) after the module."""
    _require_tools()
    work = tmp_path_factory.mktemp("fidelity")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSR_ENGAGE_")}
    env["MSR_ENGAGE_HOME"] = str(work / "state")
    errors = work / "serve.stderr"
    with errors.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "connector", "emulator", "serve", "--print-json", "--seed", "demo"],
            cwd=work, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True,
        )  # fmt: skip
    assert proc.stdout is not None
    try:
        first = proc.stdout.readline()
        if not first:
            pytest.fail(f"emulator serve did not start: {errors.read_text()}")
        info = json.loads(first)
        assert info["instance_url"].startswith("https://127.0.0.1:")
        home = work / "home"
        home.mkdir()
        net_log = work / "net.log"
        yield Served(info, _node_env(home, info, net_log), work, net_log)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()


def _node(
    served: Served, *args: str, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=served.work, env=served.env | (extra or {}), capture_output=True, text=True, timeout=180
    )


def _sf(served: Served, *args: str, extra: dict[str, str] | None = None) -> dict[str, Any]:
    """One `sf ... --json` command; its parsed JSON (status 0 or not)."""
    done = _node(served, str(SF), *args, "--json", extra=extra)
    try:
        return dict(json.loads(done.stdout))
    except json.JSONDecodeError:
        raise AssertionError(f"sf {args[:3]} printed no JSON:\n{done.stdout}\n{done.stderr}") from None


def _assert_no_traffic_outside_loopback(served: Served) -> None:
    log = served.net_log.read_text() if served.net_log.exists() else ""
    assert log == "", f"node tried to reach beyond 127.0.0.1:\n{log}"
    # The updater would be a detached process the guard cannot vouch for after the test: never started.
    updater = Path(served.env["XDG_CACHE_HOME"]) / "sf" / "autoupdate.log"
    assert not updater.exists(), updater.read_text()


def test_the_loopback_guard_refuses_and_logs_an_outside_connection(served: Served) -> None:
    log = served.work / "guard-check.log"
    done = _node(
        served,
        "node",
        "-e",
        "fetch('https://example.com/').then(() => process.exit(3), e => { console.log(e.cause.message); })",
        extra={"FIDELITY_NET_LOG": str(log)},
    )
    assert done.returncode == 0, done.stderr
    assert "outside loopback refused" in done.stdout
    assert "example.com" in log.read_text()


def test_jsforce_suite_passes_against_the_emulator(served: Served) -> None:
    info = served.info
    done = _node(
        served,
        "node",
        str(HERE / "jsforce_suite.mjs"),
        extra={
            "FIDELITY_TOOLS": str(TOOLS),
            "FIDELITY_URL": info["login_url"],
            "FIDELITY_CLIENT_ID": info["client_id"],
            "FIDELITY_CLIENT_SECRET": info["client_secret"],
            "FIDELITY_USERNAME": info["username"],
            "FIDELITY_ORG_ID": info["org_id"],
        },
    )
    assert done.returncode == 0, done.stderr
    steps = {s["name"]: s for s in json.loads(done.stdout.strip().splitlines()[-1])["steps"]}
    assert len(steps) == 11, sorted(steps)
    failed = {n: s for n, s in steps.items() if not s["ok"] and n not in PENDING_BULK_QUERY}
    assert failed == {}
    for name in PENDING_BULK_QUERY & steps.keys():
        assert (steps[name]["ok"], steps[name].get("code")) == (False, "NOT_FOUND"), steps[name]
    _assert_no_traffic_outside_loopback(served)


def test_salesforce_cli_logs_in_queries_describes_writes_and_reads_limits(served: Served) -> None:
    info = served.info
    url, org_id, username = info["instance_url"], info["org_id"], info["username"]

    login = _sf(served, "org", "login", "access-token", "--instance-url", url, "--alias", "emu",
                "--no-prompt", extra={"SF_ACCESS_TOKEN": served.token()})  # fmt: skip
    assert login["status"] == 0, login
    assert (login["result"]["username"], login["result"]["orgId"]) == (username, org_id)

    shown = _sf(served, "org", "display", "--target-org", "emu")
    assert shown["status"] == 0, shown
    assert shown["result"]["id"] == org_id
    assert shown["result"]["connectedStatus"] == "Connected"
    assert shown["result"]["instanceUrl"].rstrip("/") == url

    # The CSV format is built from the columns=true answer (columnMetadata), parent paths included.
    query = "SELECT Id, Name, Account.Name FROM Contact WHERE Account.Name != null ORDER BY Id LIMIT 5"
    table = _node(served, str(SF), "data", "query", "--target-org", "emu", "--query", query,
                  "--result-format", "csv")  # fmt: skip
    assert table.returncode == 0, table.stderr
    rows = list(csv.reader(io.StringIO(table.stdout)))
    assert rows[0] == ["Id", "Name", "Account.Name"]
    expected = served.rest("query", q=query)["records"]
    assert rows[1:] == [[r["Id"], r["Name"], r["Account"]["Name"]] for r in expected]

    described = _sf(served, "sobject", "describe", "--target-org", "emu", "--sobject", "Contact")
    assert described["status"] == 0, described
    assert described["result"]["name"] == "Contact"
    assert {"LastName", "Email", "AccountId"} <= {f["name"] for f in described["result"]["fields"]}

    created = _sf(served, "data", "create", "record", "--target-org", "emu", "--sobject", "Account",
                  "--values", "Name='CLI Fidelity BV'")  # fmt: skip
    assert created["status"] == 0, created
    account = served.rest(f"sobjects/Account/{created['result']['id']}")
    assert account["Name"] == "CLI Fidelity BV"

    limits = _sf(served, "limits", "api", "display", "--target-org", "emu")
    assert limits["status"] == 0, limits
    daily = {item["name"]: item for item in limits["result"]}["DailyApiRequests"]
    assert daily["max"] == 100_000
    assert 0 < daily["remaining"] < daily["max"]
    _assert_no_traffic_outside_loopback(served)


def test_salesforce_cli_bulk_upsert_and_bulk_export(served: Served) -> None:
    url = served.info["instance_url"]
    login = _sf(served, "org", "login", "access-token", "--instance-url", url, "--alias", "bulk",
                "--no-prompt", extra={"SF_ACCESS_TOKEN": served.token()})  # fmt: skip
    assert login["status"] == 0, login
    contact = served.rest("query", q="SELECT Id FROM Contact ORDER BY Id LIMIT 1")["records"][0]["Id"]
    upload = served.work / "lines.csv"
    upload.write_text(
        "External_Id__c,Contact__c,Rule__c,Points__c\n"
        f"cli-1,{contact},fidelity,3\ncli-2,{contact},fidelity,4\n",
        encoding="utf-8",
    )
    upserted = _sf(served, "data", "upsert", "bulk", "--target-org", "bulk", "--sobject",
                   "Lead_Score_Line__c", "--file", str(upload), "--external-id", "External_Id__c",
                   "--wait", "5")  # fmt: skip
    assert upserted["status"] == 0, upserted
    assert upserted["result"]["jobInfo"]["state"] == "JobComplete"
    assert upserted["result"]["jobInfo"]["numberRecordsProcessed"] == 2
    ok = upserted["result"]["records"]["successfulResults"]
    assert sorted(r["External_Id__c"] for r in ok) == ["cli-1", "cli-2"]
    soql = "SELECT Points__c FROM Lead_Score_Line__c WHERE External_Id__c LIKE 'cli-%' ORDER BY Points__c"
    assert [r["Points__c"] for r in served.rest("query", q=soql)["records"]] == [3, 4]

    out = served.work / "accounts.csv"
    exported = _sf(served, "data", "export", "bulk", "--target-org", "bulk", "--query",
                   "SELECT Id, Name FROM Account", "--output-file", str(out), "--wait", "5")  # fmt: skip
    if "sf data export bulk" in PENDING_BULK_QUERY:
        assert (exported["status"], exported.get("name")) == (1, "NOT_FOUND"), exported
    else:
        assert exported["status"] == 0, exported
        with out.open(encoding="utf-8") as exported_file:
            names = [row["Name"] for row in csv.DictReader(exported_file)]
        total = served.rest("query", q="SELECT COUNT() FROM Account")["totalSize"]
        assert len(names) == total
    _assert_no_traffic_outside_loopback(served)
