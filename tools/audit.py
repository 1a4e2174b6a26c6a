"""`make audit`: pip-audit over the hashed lock, honest about what it could not check.

pip-audit asks PyPI's JSON API (pypi.org, nothing else) for each pinned release's advisories. Where
that API cannot be reached (no network, a mirror without it), pip-audit skips every package and still
prints "No known vulnerabilities found": this says instead that nothing was checked, and exits 0 (the
audit is advisory, not a gate of `make test` or CI). Known advisories found: exit 1.

Usage: python tools/audit.py PIP_AUDIT LOCK_FILE
"""

from __future__ import annotations

import json
import subprocess
import sys


def main(pip_audit: str, lock: str) -> int:
    command = [pip_audit, "-s", "pypi", "-r", lock, "--require-hashes", "--disable-pip", "-f", "json",
               "--progress-spinner", "off"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)  # noqa: S603
    try:
        report = json.loads(done.stdout)
    except ValueError:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"audit: pip-audit could not reach PyPI's vulnerability data ({last[:200]}): nothing checked")
        return 0
    deps = report.get("dependencies", [])
    skipped = [d for d in deps if d.get("skip_reason")]
    vulnerable = [d for d in deps if d.get("vulns")]
    for dep in vulnerable:
        ids = ", ".join(_advisory(v) for v in dep["vulns"])
        print(f"audit: {dep['name']} {dep['version']}: {ids}")
    if deps and len(skipped) == len(deps):
        print(
            f"audit: PyPI's vulnerability data was not reachable (all {len(deps)} skipped): nothing checked"
        )
        return 0
    if skipped:
        print(f"audit: {len(skipped)} of {len(deps)} packages could not be checked: "
              + ", ".join(d["name"] for d in skipped))  # fmt: skip
    checked = len(deps) - len(skipped)
    print(f"audit: {checked} packages checked, {len(vulnerable)} with known advisories")
    return 1 if vulnerable else 0


def _advisory(vuln: dict[str, object]) -> str:
    fixed = vuln.get("fix_versions")
    versions = ", ".join(str(v) for v in fixed) if isinstance(fixed, list) else ""
    return str(vuln.get("id", "?")) + (f" (fixed in {versions})" if versions else "")


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
