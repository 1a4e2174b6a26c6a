"""The one place that builds real parts (clock, ledger, settings); commands get them from here."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from connector import paths
from connector.config import Settings, load_settings
from connector.errors import ConfigError, InputError
from connector.events import BUILT_IN_KINDS, CONTACT_UPDATED, EventReader, parse_time
from connector.ledger import Ledger
from connector.sf.client import SalesforceClient


def clock(now: str | None = None) -> datetime:
    """`now` for one job: the given ISO time (with zone), else the current time, read once."""
    if now is None:
        return datetime.now(UTC)
    try:
        return parse_time(now)
    except ValueError as exc:
        raise InputError(f"--now: {str(exc).removeprefix('at: ')}") from None


def open_ledger(path: Path | None = None) -> Ledger:
    """The ledger in the state folder (or at `path`)."""
    return Ledger(path or paths.ledger_path())


def open_existing_ledger() -> Ledger:
    """The ledger of a state folder that must already exist: for commands that only read."""
    return Ledger(paths.ledger_path(create=False))


def settings_from(config: Path | None) -> Settings:
    """Load settings from the given path or the default location; no config at all is an error."""
    path = config if config is not None else paths.default_config_path()
    if path is None:
        # Built-in defaults have no rules: scoring with them would silently give everyone nothing.
        raise ConfigError(
            "no config.toml found: pass --config PATH, set MSR_ENGAGE_CONFIG, or copy config.example.toml"
            " to config.toml"
        )
    return load_settings(path)


def known_kinds(config: Path | None = None) -> frozenset[str]:
    """The event kinds an events file may hold: the built-in ones, `contact.updated`, and those of the
    sources configured in the given config.toml, else the default one (when there is one)."""
    kinds = {*BUILT_IN_KINDS, CONTACT_UPDATED}
    path = config if config is not None else paths.default_config_path()
    if path is not None:
        sources = load_settings(path).org_sources(tracked=True)
        kinds |= {spec.kind for source in sources for spec in source.events}
        kinds |= {source.history.kind for source in sources if source.history is not None}
    return frozenset(kinds)


def scoring_settings(config: Path | None) -> Settings:
    """Settings for a command that scores: a config without any rule would give everyone 0."""
    settings = settings_from(config)
    if not settings.scoring.rules:
        where = config if config is not None else paths.default_config_path()
        raise ConfigError(
            f"scoring.rules: {where} has no rules: add [[scoring.rules]] tables (see config.example.toml)"
        )
    return settings


@contextmanager
def event_reader(
    source: str, *, skip_invalid: bool, kinds: frozenset[str] | None = None
) -> Iterator[EventReader]:
    """An EventReader over a file path or `-` (stdin); bad lines raise InputError unless skipped."""
    stream: IO[str]
    if source == "-":
        stream, name = sys.stdin, "<stdin>"
    else:
        try:
            stream = Path(source).open(encoding="utf-8")  # noqa: SIM115 - closed in finally below
        except OSError as exc:
            raise InputError(f"{source}: cannot open: {exc.strerror}") from None
        name = source
    try:
        yield EventReader(stream, name, skip_invalid=skip_invalid, kinds=kinds)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text: {exc.reason}") from None
    finally:
        if stream is not sys.stdin:
            stream.close()


def org_client(settings: Settings) -> SalesforceClient:
    """A Salesforce client, not logged in yet, with the breaker state the last run left."""
    if settings.salesforce is None:
        raise ConfigError(
            "salesforce: section missing: add [salesforce] with login_url, auth and client_id to config.toml"
            " (msr-engage emulator serve --write-config PATH writes one for the local emulator)"
        )
    with open_ledger() as ledger:
        stored = ledger.meta("breaker_open_until")
    return SalesforceClient(settings.salesforce, breaker_open_until=parse_time(stored) if stored else None)


@contextmanager
def org_connection(settings: Settings) -> Iterator[tuple[SalesforceClient, Ledger]]:
    """A logged-in Salesforce client and the ledger, with the breaker state the last run left."""
    client = org_client(settings)
    client.connect()
    with open_ledger() as ledger:
        yield client, ledger
