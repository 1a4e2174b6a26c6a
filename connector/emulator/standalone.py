"""`msr-engage emulator serve`: run the emulator until SIGINT / SIGTERM, and write a config for it.

The written config.toml holds no secret: the client secret goes to a sibling file that the config
names through `client_secret_file` (mode 0600), which the connector's settings model reads.
"""

from __future__ import annotations

import json
import re
import secrets
import signal
import string
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from connector.emulator.org import DEFAULT_API_VERSION, Emulator, OrgSettings
from connector.emulator.server import EmulatorServer, Endpoint, load_or_make_jwt_key
from connector.emulator.values import BASE62, checksum
from connector.errors import InputError
from connector.paths import write_private

# A source checkout's copy (the one the README says to edit); any install also has the packaged one.
CHECKOUT_EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
PACKAGED_EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"


def example_config() -> Path:
    """The checkout's config.example.toml, else the one inside the package (wheel, Docker image)."""
    return CHECKOUT_EXAMPLE if CHECKOUT_EXAMPLE.exists() else PACKAGED_EXAMPLE


def scoring_part(example: Path | None = None) -> str:
    """The example config without any `[salesforce...]` table (we write our own), or '' if absent."""
    example = example_config() if example is None else example
    if not example.exists():
        return ""
    kept: list[str] = []
    skipping = False
    for line in example.read_text(encoding="utf-8").splitlines():
        header = re.match(r"^\s*\[\[?([^\]]+)\]", line)
        if header:
            skipping = header.group(1).strip().startswith(("salesforce", "sources.salesforce"))
        if not skipping:
            kept.append(line)
    return "\n".join(kept).rstrip() + "\n"


def write_config(path: Path, end: Endpoint, example: Path | None = None) -> Path:
    """Write a connector config.toml pointed at the emulator; returns the client-secret file it names."""
    path.parent.mkdir(parents=True, exist_ok=True)
    secret_file = path.with_name(path.name + ".client_secret")
    write_private(secret_file, end.client_secret + "\n")  # 0600 from the first byte
    salesforce = "\n".join([
        "# Written by `msr-engage emulator serve --write-config`: the local org emulator.",
        "[salesforce]",
        f'login_url = "{end.login_url}"',
        "# The emulated org's kind: it names the JWT audience (https://test.salesforce.com here).",
        f'environment = "{end.environment}"',
        f'api_version = "{DEFAULT_API_VERSION}"',
        'auth = "client_credentials"',
        f'client_id = "{end.client_id}"',
        "# No secret in this file: it is read from client_secret_file",
        "# (or set MSR_ENGAGE_SALESFORCE__CLIENT_SECRET instead).",
        f'client_secret_file = "{secret_file.resolve()}"',
        f'ca_bundle = "{end.ca_bundle.resolve()}"',
        "# JWT bearer also works: auth = \"jwt\" with these two and private_key_file below.",
        f'username = "{end.username}"',
        f'private_key_file = "{end.jwt_private_key.resolve()}"' if end.jwt_private_key else "",
    ])  # fmt: skip
    body = scoring_part(example)
    path.write_text((body + "\n" if body else "") + salesforce + "\n", encoding="utf-8")
    return secret_file


def new_pod() -> str:
    """Two random letters or digits for a new org's ids."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(2))


ORG_ID = re.compile(r"00D[A-Za-z0-9]{15}")


def org_settings(org_id: str | None) -> OrgSettings:
    """Settings for a new org: its own random org id, or the given one (an 18-character `00D...` id).

    The org id is made like every other id: prefix, the two-character pod, a base-62 number and the
    case-safe checksum, so the pod and number are read back from it and the org's other ids share its pod.
    """
    if org_id is None:
        return OrgSettings(pod=new_pod(), org_serial=secrets.randbelow(62**6))
    if not ORG_ID.fullmatch(org_id):
        raise InputError(
            f"--org-id: {org_id!r} is not an org id: 18 letters and digits starting with 00D"
            " (like 00DKb0000000001MAA)"
        )
    if org_id[15:] != checksum(org_id[:15]):
        raise InputError(
            f"--org-id: {org_id} has a wrong checksum: its last 3 characters must be {checksum(org_id[:15])}"
        )
    number = 0
    for char in org_id[5:15]:
        number = number * 62 + BASE62.index(char)
    return OrgSettings(pod=org_id[3:5], org_serial=number - 1)  # the id maker counts from serial + 1


def serve(
    *,
    port: int | None,
    seed: str,
    state_file: Path | None,
    state_dir: Path,
    print_json: bool,
    config_path: Path | None,
    emit: Callable[[str], None],
    stop: threading.Event | None = None,
    org_id: str | None = None,
) -> None:
    """Run until SIGINT / SIGTERM (or `stop` is set): announce the endpoint, then save and stop cleanly."""
    fresh = state_file is None or not state_file.exists()
    # A new org gets its own pod (part of every id, the org id too): two emulators are two orgs, so a
    # ledger bound to one refuses the other, as with a sandbox and production. A saved org keeps its ids.
    wanted = org_settings(org_id)  # checks --org-id also when a saved org is loaded
    emu = Emulator(state_file=state_file, settings=wanted if fresh else None)
    if org_id is not None and emu.org_id != org_id:
        raise InputError(
            f"--org-id: the org saved in {state_file} is {emu.org_id}, not {org_id}: drop --org-id,"
            " or name a new --state file"
        )
    key_path, public_pem = load_or_make_jwt_key(state_dir)
    emu.settings.jwt_public_key = public_pem
    if fresh:
        emu.seed(seed)
    server = EmulatorServer(emu, state_dir, port=port if port is not None else emu.saved_port)
    server.jwt_key_path = key_path
    end = server.start()
    stop = stop or threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    try:
        # Everything a script may need is ready before the first line announces the endpoint.
        secret = write_config(config_path, end) if config_path is not None else None
        if print_json:
            emit(json.dumps(end.as_json() | {"org_id": emu.org_id}))
        emit(
            f"Salesforce org emulator on {end.instance_url} "
            f"(seed: {seed if fresh else 'from ' + str(state_file)})"
        )
        emit(
            f"  org id        {emu.org_id}\n  login URL     {end.login_url}\n  CA bundle     {end.ca_bundle}"
        )
        emit(f"  client id     {end.client_id}\n  client secret {end.client_secret}")
        emit(f"  JWT user      {end.username}  key {key_path}")
        emit(f"  admin API     {end.instance_url}/__admin__/state")
        if secret is not None:
            emit(
                f"  config        {config_path} (client secret in {secret}; "
                "or set MSR_ENGAGE_SALESFORCE__CLIENT_SECRET)"
            )
        emit("Ctrl-C or SIGTERM stops it.")
        while not stop.wait(0.2):
            pass
    finally:
        server.stop()
