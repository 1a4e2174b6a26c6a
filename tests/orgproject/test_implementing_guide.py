"""docs/implementing.md works as written: every `msr-engage` command in it runs against the emulator."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connector.emulator.testing import RunningEmulator, running_emulator
from connector.entry.cli import main
from connector.sf.org_check import CHECKLIST
from tests.test_daemon import free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs/implementing.md"


def guide_commands() -> list[str]:
    """Every msr-engage command of the guide, in order: shell-block lines and inline code."""
    text = GUIDE.read_text(encoding="utf-8")
    found = re.findall(r"```sh\n(.*?)```|`(msr-engage [^`]+)`", text, flags=re.DOTALL)
    commands = []
    for block, inline in found:
        lines = [line.strip() for line in block.splitlines()] if block else [inline]
        commands += [line for line in lines if line.startswith("msr-engage ") or line == "msr-engage"]
    return commands


@pytest.fixture
def org(tmp_path: Path) -> Iterator[RunningEmulator]:
    """An emulator whose records are stamped two minutes ago (past the connector's read lag)."""
    with running_emulator(state_dir=tmp_path / "emulator") as em:
        em.org.advance(-120)
        yield em


def _guide_config(em: RunningEmulator, folder: Path) -> Path:
    """Step 5's config.toml, pointed at the emulator (plus the emulator's CA, which a real org needs not)."""
    example = (REPO / "config.example.toml").read_text(encoding="utf-8")
    config = folder / "config.toml"
    config.write_text(
        example + "\n[salesforce]\n"
        f'login_url = "{em.login_url}"\nenvironment = "sandbox"\nauth = "jwt"\nclient_id = "{em.client_id}"\n'
        f'username = "{em.username}"\nprivate_key_file = "{em.jwt_private_key}"\n'
        f'ca_bundle = "{em.ca_bundle}"\n',
        encoding="utf-8",
    )
    return config


def _run_daemon(argv: list[str], folder: Path) -> None:
    """`msr-engage run`: it serves /healthz 200 after its first good cycle, then stops on SIGTERM."""
    port = free_port()
    env = {**os.environ, "MSR_ENGAGE_SYNC__HEALTH_PORT": str(port)}
    daemon = subprocess.Popen(
        [sys.executable, "-m", "connector", *argv], cwd=folder, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:

        def healthy() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(healthy, timeout=60)
    finally:
        daemon.send_signal(signal.SIGTERM)
        _out, err = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, err


def test_the_guide_names_the_commands_an_implementer_runs() -> None:
    names = {shlex.split(c)[1] for c in guide_commands()}
    assert names >= {"check", "sync", "backfill", "run", "status", "discover", "explain"}


def test_every_msr_engage_command_in_the_guide_runs_against_the_emulator(
    org: RunningEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = org.org
    job = emu.create("msf__Job__c", {"Name": "Heftruckchauffeur"})
    candidate = emu.create("Contact", {"LastName": "Jansen", "RecordTypeId": emu.record_types["Candidate"]})
    emu.apply(candidate, job, "Intake verwerkt")
    _guide_config(org, tmp_path)  # ./config.toml: the bare `msr-engage check` of the guide finds it too
    ran = []
    for command in guide_commands():
        argv = [a.replace("CONTACT_ID", candidate) for a in shlex.split(command)[1:]]
        if argv[0] == "run":
            _run_daemon(argv, tmp_path)
        else:
            with pytest.raises(SystemExit) as exited:
                main(argv)
            assert exited.value.code in (0, None), f"{command}: {capsys.readouterr()}"
        ran.append(argv[0])
    assert ran.index("backfill") < ran.index("explain")
    contact = emu.record("Contact", candidate)
    assert contact is not None
    assert contact["Medal__c"] == "Bronze"


def test_the_guide_ends_with_the_checklist_check_prints() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    listed = re.findall(r"^- \[ \] (.+)$", text.split("## Checklist", 1)[1], flags=re.MULTILINE)
    assert listed == [line for line, _decides in CHECKLIST]
