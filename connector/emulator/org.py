"""The emulated org as one object: records, clock, sessions, API usage, faults — and the test handle.

The WSGI app (`app.py`) translates HTTP into calls on an `Emulator`; tests and the admin API call the
same methods directly to seed data, simulate activity and script faults.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from connector.config.salesforce import ObjectMapping
from connector.emulator import email
from connector.emulator.access import Access
from connector.emulator.faults import Faults
from connector.emulator.schema import ObjectDef, build_schema
from connector.emulator.store import Store
from connector.emulator.values import Clock, IdMaker, truncate

DEFAULT_API_VERSION = "59.0"
PRODUCTION_AUDIENCE = "https://login.salesforce.com"
SANDBOX_AUDIENCE = "https://test.salesforce.com"
API_ONLY_PROFILE = "Minimum Access - API Only Integrations"


@dataclass
class OrgSettings:
    """Credentials and limits of the emulated org."""

    client_id: str = "msr-engage-emulator"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    username: str = "integration@msr-engage.emulator"
    refresh_token: str = field(default_factory=lambda: "5Aep" + secrets.token_urlsafe(32))
    jwt_public_key: str | None = None  # PEM; JWT bearer is refused without one
    environment: str = "sandbox"  # or "production": which JWT audience the org accepts, IsSandbox
    jwt_audiences: tuple[str, ...] = ()  # accepted besides the environment's audience (tests only)
    token_ttl_seconds: float = 2 * 3600
    daily_api_limit: int = 100_000
    pod: str = "Kb"  # part of every id: two emulators with different pods are two different orgs
    org_serial: int = 0  # the organization id's number before the first: a standalone org draws one
    bulk_processing_seconds: float = 0.0  # org time a closed Bulk 2.0 job stays InProgress
    # Whether e-mail tracking updates (opens, clicks, HasReply) move SystemModstamp: Salesforce does
    # not document it, so the connector must not depend on it (false: they leave it alone).
    tracking_moves_modstamp: bool = True

    @property
    def jwt_audience(self) -> str:
        """The `aud` Salesforce requires of a JWT bearer assertion for this kind of org."""
        return SANDBOX_AUDIENCE if self.environment == "sandbox" else PRODUCTION_AUDIENCE


@dataclass
class Cursor:
    """A query's remaining result set, reached through `nextRecordsUrl`."""

    rows: list[dict[str, Any]]
    shape: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
    batch: int
    touched: datetime


class Emulator:
    """A stateful Salesforce org: the thing behind the HTTP surface and the tests' handle on it."""

    def __init__(
        self,
        *,
        mapping: ObjectMapping | None = None,
        settings: OrgSettings | None = None,
        clock: Clock | None = None,
        state_file: Path | None = None,
    ) -> None:
        self.mapping = mapping or ObjectMapping()
        self.settings = settings or OrgSettings()
        self.clock = clock or Clock()
        self.schema: dict[str, ObjectDef] = build_schema()
        self.store = Store(
            self.schema, self.clock, IdMaker({"00D": self.settings.org_serial}, pod=self.settings.pod)
        )
        self.faults = Faults()
        self.access = Access()  # what the integration user may see (field-level security)
        self.store.write_hook = self.faults.row_lock
        self.lock = self.store.lock
        self.calls: Counter[str] = Counter()
        self.api_used = 0
        self.tokens: dict[str, datetime] = {}
        self.expire_after: int | None = None
        self.cursors: dict[str, Cursor] = {}
        self.base_url = "https://127.0.0.1"
        self.state_file = state_file
        self.record_types: dict[str, str] = {}
        self.bulk_jobs: dict[str, Any] = {}
        self.query_jobs: dict[str, Any] = {}
        self.saved_port = 0  # the port of the previous run, so a restarted org keeps its URLs
        self._save_lock = threading.Lock()
        self._bootstrap()

    # ----- sessions and API usage ----------------------------------------------------------------------
    def issue_token(self) -> str:
        """A new access token, valid for `token_ttl_seconds` of org time."""
        org_id = self.org_id
        token = f"{org_id[:15]}!AQ{secrets.token_urlsafe(48)}"
        self.tokens[token] = self.clock.now()
        return token

    def session_valid(self, token: str) -> bool:
        """Whether `token` is a live session (known and not expired)."""
        issued = self.tokens.get(token)
        if issued is None:
            return False
        if self.clock.now() - issued >= timedelta(seconds=self.settings.token_ttl_seconds):
            del self.tokens[token]
            return False
        return True

    def expire_tokens(self) -> None:
        """End every session now: the next call with an old token gets 401 INVALID_SESSION_ID."""
        with self.lock:
            self.tokens.clear()

    def expire_tokens_after(self, calls: int) -> None:
        """Let `calls` more API calls succeed, then end every session."""
        with self.lock:
            self.expire_after = calls

    def set_api_limit(self, total: int, used: int | None = None) -> None:
        """Set the daily API request limit (and optionally the calls already used today)."""
        with self.lock:
            self.settings.daily_api_limit = total
            if used is not None:
                self.api_used = used

    def limit_info(self) -> str:
        """The `Sforce-Limit-Info` header value."""
        return f"api-usage={self.api_used}/{self.settings.daily_api_limit}"

    def reset_calls(self) -> None:
        """Zero the per-endpoint call counters."""
        with self.lock:
            self.calls.clear()

    def call_counts(self) -> dict[str, int]:
        """API calls received per endpoint since start (or the last reset)."""
        with self.lock:
            return dict(self.calls)

    def fail_next(self, count: int, status: int = 503, endpoint: str | None = None) -> None:
        """The next `count` API calls (to `endpoint`, or any) answer HTTP `status`."""
        self.faults.fail_next(count, status, endpoint)

    def delay_next(self, count: int, seconds: float, endpoint: str | None = None) -> None:
        """Hold the next `count` responses for `seconds` (a client read timeout)."""
        self.faults.delay_next(count, seconds, endpoint)

    def lock_rows(self, count: int = 0, ids: set[str] | None = None, rate: float = 0.0) -> None:
        """Fail record writes with UNABLE_TO_LOCK_ROW: the next `count`, those to `ids`, or a share."""
        self.faults.lock_rows(count, ids, rate)

    def set_tracking_moves_modstamp(self, moves: bool) -> None:
        """Whether e-mail opens, clicks and replies move the message's SystemModstamp from now on."""
        with self.lock:
            self.settings.tracking_moves_modstamp = moves

    def set_bulk_processing(self, seconds: float) -> None:
        """From now on a closed Bulk 2.0 job (ingest or query) takes `seconds` of org time to complete."""
        with self.lock:
            self.settings.bulk_processing_seconds = seconds

    def applied(self) -> dict[str, int]:
        """Writes applied per record id since start: a record written twice by one plan shows 2."""
        with self.lock:
            return dict(self.store.writes)

    # ----- control -----------------------------------------------------------------------------------
    def advance(self, seconds: float) -> datetime:
        """Move the org's clock forward (token expiry, commit lag) without sleeping."""
        return self.clock.advance(seconds)

    def set_commit_lag(self, seconds: float) -> None:
        """From now on a changed record shows in queries only `seconds` after the change."""
        with self.lock:
            self.store.commit_lag = seconds

    def seed(self, name: str = "demo", *, seed: int = 20261126) -> dict[str, int]:
        """Fill the org with a named data set (`demo` or `empty`); returns counts per object."""
        from connector.emulator.seed import seed_demo

        with self.lock:
            if name == "demo":
                seed_demo(self, seed=seed)
            elif name != "empty":
                raise ValueError(f"unknown seed {name!r}: use demo or empty")
            return self.counts()

    def counts(self) -> dict[str, int]:
        """Live (not deleted) records per object."""
        with self.lock:
            return {
                name: sum(1 for r in rows.values() if not r.get("IsDeleted"))
                for name, rows in self.store.rows.items()
            }

    def records(self, obj: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Copies of the current rows of `obj` (typed values), for assertions."""
        with self.lock:
            return [dict(r) for r in self.store.rows[obj].values() if include_deleted or not r["IsDeleted"]]

    def record(self, obj: str, record_id: str) -> dict[str, Any] | None:
        """A copy of one current row, or None."""
        with self.lock:
            row = self.store.get(obj, record_id)
            return dict(row) if row is not None else None

    def create(self, obj: str, values: dict[str, Any], *, at: datetime | None = None) -> str:
        """Create a record as a user of the org would (validated, timestamped); returns its id."""
        with self.lock:
            return self.store.create(obj, values, at=at)

    def update(self, obj: str, record_id: str, values: dict[str, Any], *, at: datetime | None = None) -> None:
        """Change a record as a user of the org would."""
        with self.lock:
            self.store.update(obj, record_id, values, at=at)

    def delete(self, obj: str, record_id: str) -> None:
        """Delete a record (it stays visible to queryAll)."""
        with self.lock:
            self.store.delete(obj, record_id)

    # ----- setup: what the integration user sees, which fields keep history ---------------------------
    def user_schema(self) -> dict[str, ObjectDef]:
        """The objects and fields the integration user can see (describe, queries)."""
        return self.access.schema(self.schema)

    def set_tracked(self, obj: str, field_name: str, tracked: bool) -> None:
        """Switch field history tracking on or off for one field of an object that keeps history."""
        with self.lock:
            odef = self.schema[obj]
            if odef.history_name not in self.schema:
                raise ValueError(f"{obj} keeps no field history in this emulator")
            if odef.field(field_name) is None:
                raise ValueError(f"{obj} has no field {field_name}")
            rest = tuple(f for f in odef.tracked if f != field_name)
            odef.tracked = (*rest, field_name) if tracked else rest

    # ----- simulated recruiter and candidate activity ------------------------------------------------
    def move_application(self, application_id: str, step: str) -> None:
        """A recruiter moves a job application to `step` (tracked in field history)."""
        self.update(self.mapping.application.object, application_id, {self.mapping.application.step: step})

    def apply(self, contact_id: str, job_id: str, step: str = "Websollicitatie") -> str:
        """A candidate applies for a vacancy; returns the application id."""
        a = self.mapping.application
        return self.create(a.object, {a.contact: contact_id, a.job: job_id, a.step: step})

    def open_email(self, message_id: str, *, clicked: bool = False) -> None:
        """The recipient opens an e-mail (and optionally clicks a link in it)."""
        with self.lock:
            stamp = self.settings.tracking_moves_modstamp
            email.open_message(
                self.store, message_id, truncate(self.clock.now()), clicked=clicked, stamp=stamp
            )

    def reply_email(self, message_id: str) -> str:
        """The recipient replies to an e-mail (an incoming message; HasReply on the original)."""
        with self.lock:
            stamp = self.settings.tracking_moves_modstamp
            return email.reply_to(self.store, message_id, truncate(self.clock.now()), stamp=stamp)

    # ----- bootstrap and persistence -------------------------------------------------------------------
    @property
    def org_id(self) -> str:
        """The 18-character organization id."""
        return next(iter(self.store.rows["Organization"]))

    @property
    def user_id(self) -> str:
        """The 18-character id of the integration user every session belongs to."""
        return next(iter(self.store.rows["User"]))

    def _bootstrap(self) -> None:
        """The rows every org has: the Organization, its integration user and Contact's record types."""
        if self.state_file is not None and self.state_file.exists():
            self.load(self.state_file)
            return
        when = truncate(self.clock.now() - timedelta(days=400))
        self.store.insert_raw("Organization", {
            "Id": self.store.ids.new("00D"), "Name": "MSR Emulated Agency", "InstanceName": "EU45",
            "OrganizationType": "Enterprise Edition", "IsSandbox": self.settings.environment == "sandbox",
            "NamespacePrefix": None, "TrialExpirationDate": None, "LanguageLocaleKey": "nl_NL",
            "TimeZoneSidKey": "Europe/Amsterdam",
        })  # fmt: skip
        self._add_user(when)
        c = self.mapping.contact
        for dev_name in (c.candidate_record_type, c.contact_person_record_type):
            rt_id = self.store.ids.new("012")
            self.store.insert_raw("RecordType", {
                "Id": rt_id, "IsDeleted": False, "Name": dev_name.replace("_", " "),
                "DeveloperName": dev_name, "SobjectType": c.object,
                "CreatedDate": when, "LastModifiedDate": when, "SystemModstamp": when,
            })  # fmt: skip
        self._index_record_types()

    def _add_user(self, when: datetime) -> None:
        """The integration user (the `username` of the JWT grant) with its licence Salesforce Integration
        and the API-only profile, unless the org has a user already."""
        if self.store.rows["User"]:
            return
        licence = self.store.ids.new("100")
        self.store.insert_raw(
            "UserLicense", {"Id": licence, "IsDeleted": False, "Name": "Salesforce Integration"}
        )
        profile = self.store.ids.new("00e")
        self.store.insert_raw("Profile", {
            "Id": profile, "IsDeleted": False, "Name": API_ONLY_PROFILE, "UserLicenseId": licence,
        })  # fmt: skip
        self.store.insert_raw("User", {
            "Id": self.store.ids.new("005"), "IsDeleted": False, "Name": "MSR Engage Integration",
            "Username": self.settings.username, "FirstName": "MSR Engage", "LastName": "Integration",
            "Alias": "integ", "Email": "integration@msr-engage.emulator", "IsActive": True,
            "ProfileId": profile, "UserType": "Standard", "TimeZoneSidKey": "Europe/Amsterdam",
            "LocaleSidKey": "nl_NL", "LanguageLocaleKey": "en_US", "CreatedDate": when,
            "LastModifiedDate": when, "SystemModstamp": when,
        })  # fmt: skip

    def set_field_edit(self, obj: str, field: str, editable: bool) -> None:
        """Give or take the integration user's edit access to one field (what describe and writes see)."""
        with self.lock:
            odef = self.schema[obj]
            fdef = odef.field(field)
            if fdef is None:
                raise ValueError(f"{obj} has no field {field}")
            odef.fields[fdef.name] = replace(fdef, createable=editable, updateable=editable)
            odef.__post_init__()

    def _index_record_types(self) -> None:
        self.record_types = {r["DeveloperName"]: r["Id"] for r in self.store.rows["RecordType"].values()}

    def save(self, path: Path | None = None) -> None:
        """Write the org (records, credentials, API usage) to its state file."""
        target = path or self.state_file
        if target is None:
            return
        extra = {
            "settings": {
                "client_id": self.settings.client_id,
                "client_secret": self.settings.client_secret,
                "refresh_token": self.settings.refresh_token,
            },
            "api_used": self.api_used,
            "base_url": self.base_url,
            "clock_now": self.clock.now().isoformat(),
        }
        with self._save_lock:
            self.store.save(target, extra)

    def load(self, path: Path) -> None:
        """Replace the org with the one saved at `path`."""
        import json

        data = json.loads(path.read_text(encoding="utf-8"))
        with self.lock:
            self.store.load(data)
            saved = data.get("settings", {})
            self.settings.client_id = saved.get("client_id", self.settings.client_id)
            self.settings.client_secret = saved.get("client_secret", self.settings.client_secret)
            self.settings.refresh_token = saved.get("refresh_token", self.settings.refresh_token)
            self.api_used = int(data.get("api_used", 0))
            port = str(data.get("base_url", "")).rpartition(":")[2]
            self.saved_port = int(port) if port.isdigit() else 0
            self._add_user(truncate(self.clock.now()))  # a state file saved before orgs had one
            self._index_record_types()
