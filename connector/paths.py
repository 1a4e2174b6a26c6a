"""Where runtime state lives: one resolver, moved as a whole by `MSR_ENGAGE_HOME` (default ./state)."""

from __future__ import annotations

import os
from pathlib import Path

from connector.errors import ConfigError, StateFolderError

HOME_ENV = "MSR_ENGAGE_HOME"
CONFIG_ENV = "MSR_ENGAGE_CONFIG"


def state_home(*, create: bool = True) -> Path:
    """The state folder: created on first use by commands that write; read-only ones need it to exist."""
    home = Path(os.environ.get(HOME_ENV) or "state")
    if not create and not home.is_dir():
        # A typo in MSR_ENGAGE_HOME would otherwise open a fresh, empty ledger and report zeros.
        raise ConfigError(
            f"state folder {home} does not exist: check {HOME_ENV}, or run a command that writes"
            " (ingest, sync --once) to start a ledger there"
        )
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StateFolderError(f"state folder {home}: cannot create it: {exc.strerror}") from None
    return home


def ledger_path(*, create: bool = True) -> Path:
    """The SQLite ledger file inside the state folder."""
    return state_home(create=create) / "ledger.db"


def default_config_path() -> Path | None:
    """`MSR_ENGAGE_CONFIG` if set, else ./config.toml if it exists, else None (built-in defaults)."""
    named = os.environ.get(CONFIG_ENV)
    if named:
        return Path(named)
    local = Path("config.toml")
    return local if local.exists() else None


def example_config() -> Path:
    """The bundled config.example.toml (the admin's starting point, also used by the demo)."""
    return Path(__file__).parent / "config.example.toml"


PRIVATE_UMASK = 0o077  # files the process makes: for its user only (ledger, WAL, lock, hit files, secrets)


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only, from the first byte (never chmodded after)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT: narrow it first
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            fd = -1
            out.write(text)
    finally:
        if fd != -1:
            os.close(fd)


def secret_file_problem(path: Path) -> str | None:
    """Why a file holding a secret or a key is not private enough, or None when it is.

    Private: nobody but its owner can read or write it, or it is a platform-mounted secret (a
    Kubernetes Secret with `fsGroup`, a Docker secret) owned by someone else (root) and shared with
    this process's own group only (0440 / 0640 with our group). Others may never read it.
    """
    try:
        st = path.stat()
    except OSError:
        return None  # reading it reports that
    mode = st.st_mode & 0o777
    ours = {os.getegid(), *os.getgroups()}
    mounted_for_our_group = st.st_uid != os.geteuid() and st.st_gid in ours and not mode & 0o027
    if mode & 0o077 and not mounted_for_our_group:
        return f"{path} is open to group or others (mode {mode:04o}): chmod 600 {path}"
    return None


def unusable_state(exc: BaseException) -> str:
    """One line for an OS or SQLite error that stopped a command: what failed, where, and what to check."""
    home = os.environ.get(HOME_ENV) or "state"
    if isinstance(exc, OSError):
        what = exc.strerror or type(exc).__name__
        name = str(exc.filename or "")
        inside = not name or Path(name).resolve().is_relative_to(Path(home).resolve())
        if not inside:
            return f"{name}: {what}"
        where = f" ({name})" if name else ""
        return f"cannot use the state folder {home}{where}: {what}: check its rights and free space"
    return f"the ledger in state folder {home} cannot be used: {exc}: check its rights and free space"
