"""Every shell line of the README, run as a newcomer runs it: in a fresh copy, after the demo, in order.

The copy is the repository's tracked files (`git ls-files`) in a temporary folder, with a `.venv` of
its own: this interpreter's base, this venv's installed dependencies reached through a .pth line, the
copy's own `connector` through another, and the `msr-engage` script pip would write. So every line
runs the copy's code from the copy's folder, without a reinstall (no network, seconds not minutes).

What a line's trailing comment says is what the test does:
- `# in a second terminal`: a new shell (no `source` from before) in the background; the next line
  waits for its first output line, as a reader waits for its banner; Ctrl-C (SIGINT) stops it at the
  end, and it must exit 0.
- `# replace NAME ...`: NAME is a placeholder; the test puts in a real value (below) and runs it.
- `(exit N)`: the line must exit N; every other line must exit 0.
A ```sh block right after `<!-- readme-test: not run (why) -->` is not run; each other block is.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sysconfig
import venv
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOT_RUN = re.compile(r"<!-- readme-test: not run \((?P<why>[^)]+)\) -->\n```sh\n")
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.M | re.S)
PLACEHOLDER = re.compile(r"# replace (?P<name>[A-Z][A-Z_]+)\b")
BASH, GIT, MAKE = (shutil.which(tool) or tool for tool in ("bash", "git", "make"))
GATES = ("ruff check .", "ruff format --check .", "mypy --strict connector", "lint-imports", "pytest -q")


@dataclass(frozen=True)
class Line:
    text: str

    @property
    def background(self) -> bool:
        return "# in a second terminal" in self.text

    @property
    def exit_code(self) -> int:
        found = re.search(r"\(exit (\d+)\)", self.text)
        return int(found.group(1)) if found else 0

    @property
    def placeholders(self) -> list[str]:
        return PLACEHOLDER.findall(self.text)


def readme_lines() -> tuple[list[Line], list[str]]:
    """The shell lines to run, in README order, and why each block left out is left out."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    skipped = [m.group("why") for m in NOT_RUN.finditer(text)]
    skipped_at = {m.end() for m in NOT_RUN.finditer(text)}
    lines = []
    for block in BLOCK.finditer(text):
        if block.start(1) in skipped_at:
            continue
        lines += [Line(raw.strip()) for raw in block.group(1).splitlines() if raw.strip()]
    return lines, skipped


def fresh_copy(root: Path) -> Path:
    """The tracked files in `root/repo`, with a .venv running the copy's code on today's dependencies."""
    listed = subprocess.run(
        [GIT, "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True, timeout=60
    ).stdout.split("\0")
    copy = root / "repo"
    for name in filter(None, listed):
        source, target = REPO / name, copy / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree, not yet committed
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    env_dir = copy / ".venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env_dir)
    (site,) = env_dir.glob("lib/python*/site-packages")
    # The copy first; this venv's packages after it. Their .pth files (this checkout's editable
    # install among them) are not processed from a .pth-added folder, so the copy's code is the one.
    (site / "00-msr-engage-copy.pth").write_text(f"{copy}\n")
    (site / "01-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    script = env_dir / "bin" / "msr-engage"
    body = "import sys\nfrom connector.entry.cli import main\nsys.exit(main())\n"
    script.write_text(f"#!{env_dir / 'bin' / 'python'}\n{body}")
    script.chmod(0o755)
    (env_dir / ".installed").touch()  # what `make`'s install step leaves: the install is done
    return copy


def newcomer_env(home: Path) -> dict[str, str]:
    """A shell as a newcomer's: no MSR_ENGAGE_* (the suite's own state folder must not leak in)."""
    keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TZ")}
    return keep | {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home)}


def _make_dry_run(copy: Path, env: dict[str, str], target: str) -> list[str]:
    plan = subprocess.run(
        [MAKE, "-n", target], cwd=copy, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert plan.returncode == 0, plan.stderr
    return [line.strip() for line in plan.stdout.splitlines() if line.strip()]


def _placeholder(name: str, copy: Path) -> str:
    if name == "CONTACT_ID":  # one of the org's contacts, as `status` / the dry run would show
        with sqlite3.connect(copy / "state" / "ledger.db") as db:
            row = db.execute("SELECT contact_id FROM contact_state ORDER BY contact_id LIMIT 1").fetchone()
        assert row is not None, "no contact in the ledger to put in for CONTACT_ID"
        return str(row[0])
    raise AssertionError(f"README placeholder {name}: teach this test a real value for it")


def test_every_shell_line_of_the_readme_runs_as_written_in_a_fresh_copy(tmp_path: Path) -> None:
    lines, skipped = readme_lines()
    assert skipped == ["needs Docker, your org's config.toml and key"]  # production only, said why
    assert len(lines) >= 12
    copy = fresh_copy(tmp_path)
    env = newcomer_env(tmp_path)
    prelude: list[str] = []  # what earlier lines did to the shell (`source`, `export`, `cd`)
    background: list[tuple[Line, subprocess.Popen[str]]] = []
    ran: list[str] = []
    try:
        for line in lines:
            command = line.text
            for name in line.placeholders:
                command = command.replace(name, _placeholder(name, copy), 1)
            if command.startswith("make "):
                target = command.split()[1]
                planned = _make_dry_run(copy, env, target)
                if target == "test":
                    # Not run: it is this suite (it would run itself). Its plan must be the gates.
                    assert all(any(gate in step for step in planned) for gate in GATES), planned
                    ran.append(line.text)
                    continue
                # `make demo` is its install step (done: the copy's .venv) and then exactly this:
                assert planned == [".venv/bin/msr-engage demo"], planned
                command = planned[0]
            if line.background:
                proc = subprocess.Popen(
                    [BASH, "-c", command], cwd=copy, env=env, text=True, start_new_session=True,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                )  # fmt: skip
                background.append((line, proc))
                assert proc.stdout is not None
                banner = proc.stdout.readline()  # what the reader waits for before the next line
                assert banner, f"{line.text}: no output: {proc.communicate(timeout=30)[1]}"
                ran.append(line.text)
                continue
            done = subprocess.run(
                [BASH, "-c", "\n".join([*prelude, command])], cwd=copy, env=env,
                capture_output=True, text=True, timeout=180, check=False,
            )  # fmt: skip
            assert done.returncode == line.exit_code, (
                f"{line.text}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            )
            if command == ".venv/bin/msr-engage demo":  # the hint the README repeats must be what it says
                assert "Look around: MSR_ENGAGE_HOME=state/demo .venv/bin/msr-engage status" in done.stdout
            if re.match(r"(source|export|cd) ", command):
                prelude.append(command)
            ran.append(line.text)
        where = "python -c 'import connector; print(connector.__file__)'"
        which = subprocess.run(
            [BASH, "-c", "\n".join([*prelude, where])],
            cwd=copy, env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert Path(which.stdout.strip()).is_relative_to(copy), which  # the copy's code ran, not ours
    finally:
        for _, proc in background:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C, as the README says
            proc.communicate(timeout=30)
    for line, proc in background:
        assert proc.returncode == 0, f"{line.text}: exit {proc.returncode} on Ctrl-C"
    assert ran == [line.text for line in lines]
