"""`make audit` (tools/audit.py) tells what it checked: nothing when PyPI is unreachable, else advisories."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

AUDIT = Path(__file__).resolve().parents[1] / "tools" / "audit.py"


def fake_pip_audit(tmp_path: Path, report: object, stderr: str = "") -> Path:
    script = tmp_path / "pip-audit"
    body = json.dumps(report) if report is not None else ""
    script.write_text(
        f"#!{sys.executable}\nimport sys\nsys.stdout.write({body!r})\nsys.stderr.write({stderr!r})\n"
        f"sys.exit({1 if report is None or 'vulns' in body else 0})\n"
    )
    script.chmod(0o700)
    return script


@pytest.mark.parametrize(
    ("report", "stderr", "code", "said"),
    [
        (
            None,
            "requests.exceptions.ConnectionError: pypi.org",
            0,
            "could not reach PyPI's vulnerability data",
        ),
        (
            {"dependencies": [{"name": "a", "version": "1", "skip_reason": "not found"}]},
            "",
            0,
            "nothing checked",
        ),
        (
            {
                "dependencies": [
                    {
                        "name": "werkzeug",
                        "version": "3.0.1",
                        "vulns": [{"id": "GHSA-q34m-jh98-gwm2", "fix_versions": ["3.0.6"]}],
                    }
                ]
            },
            "",
            1,
            "werkzeug 3.0.1: GHSA-q34m-jh98-gwm2 (fixed in 3.0.6)",
        ),
        ({"dependencies": [{"name": "a", "version": "1", "vulns": []}]}, "", 0, "1 packages checked, 0 with"),
    ],
)
def test_the_audit_reports_what_it_could_check(
    tmp_path: Path, report: object, stderr: str, code: int, said: str
) -> None:
    tool = fake_pip_audit(tmp_path, report, stderr)
    done = subprocess.run(
        [sys.executable, str(AUDIT), str(tool), "requirements.hashed.lock"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == code
    assert said in done.stdout
