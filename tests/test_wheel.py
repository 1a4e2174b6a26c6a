"""The wheel as a non-editable install (the Docker path) gets it: package data and all, outside the tree.

The wheel is built offline with the real backend (hatchling, --no-build-isolation --no-index) and
installed without its dependencies into a fresh venv; that venv reaches the dependencies already in
this interpreter's site-packages through a .pth line. Site-packages reached that way have their own
.pth files left unprocessed, so this checkout's editable install does not leak into the fresh venv:
`connector` there is the wheel's copy or nothing.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _env(cwd: Path) -> dict[str, str]:
    """A newcomer's bare environment: no PYTHONPATH, no config, the state folder beside the work."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "MSR_ENGAGE_HOME": str(cwd / "state")}


def _run(args: list[str], cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=_env(cwd), input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_wheel_in_a_fresh_venv_has_its_example_config_and_runs_outside_the_tree(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", str(dist), str(REPO)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("msr_engage-*.whl")
    assert "connector/config.example.toml" in zipfile.ZipFile(wheel).namelist()

    fresh = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(fresh)
    python = fresh / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     tmp_path).stdout.strip())  # fmt: skip
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
         str(wheel)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr

    work = tmp_path / "elsewhere"  # not the source tree: nothing to find beside the checkout
    work.mkdir()
    where = _run([str(python), "-c", "import connector; print(connector.__file__)"], work)
    assert Path(where.stdout.strip()).is_relative_to(site), where.stdout + where.stderr
    script = str(fresh / "bin" / "msr-engage")

    helped = _run([script, "--help"], work)
    assert helped.returncode == 0, helped.stderr
    assert "emulator" in helped.stdout

    config = work / "local.toml"
    args = [script, "emulator", "serve", "--seed", "empty", "--port", "0", "--print-json"]
    server = subprocess.Popen(
        [*args, "--write-config", str(config)],
        cwd=work, env=_env(work), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first, server.communicate(timeout=10)[1]
        info = json.loads(first)
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    assert server.returncode == 0
    written = tomllib.loads(config.read_text(encoding="utf-8"))
    assert written["salesforce"]["login_url"] == info["login_url"]
    assert len(written["scoring"]["rules"]) >= 5  # the packaged example's rules, not an empty config

    sample = _run([script, "demo", "--sample", "--rows", "3"], work)
    assert sample.returncode == 0, sample.stderr
    assert "Bands: hot" in sample.stdout
    event = '{"contact_id": "003Dm0000000000046", "kind": "application.step", "at": "2026-03-02T09:15:00Z",'
    event += ' "attrs": {"step": "Intake verwerkt"}}\n'
    scored = _run(
        [script, "score", "-", "--config", str(config), "--now", "2026-03-03T00:00:00Z"], work, event
    )
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["score"] > 0  # the written config's rules score
