"""Salesforce object and field names: MSR defaults, in one place.

The objects and fields we deploy are in `org/` (the SFDX project), MSR's own in `org/msr-schema.json`; the
emulator builds its org from both and a test holds these defaults to them, so the fake org, the deployed
org and the defaults cannot drift apart. `msr-engage discover` proposes the names an org really uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import structlog
from pydantic import Field, SecretStr, model_validator

from connector.config.names import ApiName
from connector.config.scoring import Strict
from connector.config.secrets import refuse_secret_from_file
from connector.paths import secret_file_problem


class ContactFields(Strict):
    """Contact (candidates and contact persons) and its recruitment-detail fields."""

    object: ApiName = "Contact"
    record_type: ApiName = "RecordType.DeveloperName"
    candidate_record_type: str = "Candidate"
    contact_person_record_type: str = "Contact_Person"
    score: ApiName = "Lead_Score__c"
    band: ApiName = "Lead_Score_Band__c"
    medal: ApiName = "Medal__c"
    first_qualified_on: ApiName = "Date_First_Qualification__c"
    first_placed_on: ApiName = "Date_First_Placement__c"
    heating_up: ApiName = "Heating_Up__c"
    last_engaged_on: ApiName = "Date_Last_Engagement__c"
    last_engaged_by: ApiName = "Last_Engagement__c"
    explanation: ApiName = "Lead_Score_Explanation__c"
    tracking_consent: ApiName = "Tracking_Consent__c"
    # Picklist values the org uses for our bands and medals.
    band_values: dict[str, str] = Field(
        default_factory=lambda: {
            "hot": "Hot",
            "warm": "Warm",
            "lukewarm": "Lukewarm",
            "cold": "Cold",
        }
    )
    medal_values: dict[str, str] = Field(
        default_factory=lambda: {"bronze": "Bronze", "silver": "Silver", "gold": "Gold"}
    )


class JobFields(Strict):
    """Vacancies (public MSR name)."""

    object: ApiName = "msf__Job__c"
    name: ApiName = "Name"
    # The vacancy number the website shows in its URLs (for `job_number` vacancy patterns).
    number: ApiName = "Name"


class ApplicationFields(Strict):
    """Job applications and their step picklist."""

    object: ApiName = "msf__Job_Application__c"
    contact: ApiName = "msf__Candidate__c"
    job: ApiName = "msf__Job__c"
    step: ApiName = "msf__Step__c"


class ScoreLineFields(Strict):
    """Lead-score lines: one per contact and rule, child of Contact."""

    object: ApiName = "Lead_Score_Line__c"
    contact: ApiName = "Contact__c"
    rule: ApiName = "Rule__c"
    points: ApiName = "Points__c"
    events: ApiName = "Event_Count__c"  # how many events count now
    last_event_on: ApiName = "Date_Last_Event__c"  # the local day of the latest of them
    lapses_on: ApiName = "Date_Next_Lapse__c"  # the first day some of the points stop counting
    external_id: ApiName = "External_Id__c"


class WebsiteVisitFields(Strict):
    """Website visits: one per visit, child of Contact."""

    object: ApiName = "Website_Visit__c"
    contact: ApiName = "Contact__c"
    visited_at: ApiName = "Visited_At__c"
    pages: ApiName = "Pages__c"
    landing_url: ApiName = "Landing_Url__c"
    duration_seconds: ApiName = "Duration_Seconds__c"
    external_id: ApiName = "External_Id__c"


class JobViewFields(Strict):
    """Website job views: one per contact and vacancy, child of Contact and of the vacancy."""

    object: ApiName = "Website_Job_View__c"
    contact: ApiName = "Contact__c"
    job: ApiName = "Job__c"
    first_viewed: ApiName = "First_Viewed__c"
    last_viewed: ApiName = "Last_Viewed__c"
    view_count: ApiName = "View_Count__c"
    external_id: ApiName = "External_Id__c"


class ObjectMapping(Strict):
    """Every object and field API name the connector reads or writes (`[salesforce.objects]`)."""

    contact: ContactFields = Field(default_factory=ContactFields)
    job: JobFields = Field(default_factory=JobFields)
    application: ApplicationFields = Field(default_factory=ApplicationFields)
    score_line: ScoreLineFields = Field(default_factory=ScoreLineFields)
    website_visit: WebsiteVisitFields = Field(default_factory=WebsiteVisitFields)
    job_view: JobViewFields = Field(default_factory=JobViewFields)


AuthMode = Literal["jwt", "client_credentials", "refresh_token"]
Environment = Literal["production", "sandbox"]
AUDIENCES: dict[str, str] = {
    "production": "https://login.salesforce.com",
    "sandbox": "https://test.salesforce.com",
}
# Secrets never live in config.toml: only in the environment or in a file named by `<key>_file`.
SECRET_KEYS = ("client_secret", "refresh_token")
_ENV_PREFIX = "MSR_ENGAGE_SALESFORCE__"


class SalesforceSettings(Strict):
    """`[salesforce]`: where the org is, how to log in, what to map, and how much API budget to spend."""

    login_url: Annotated[str, Field(pattern=r"^https://[^\s/]+(/[^\s]*)?$")] = "https://login.salesforce.com"
    api_version: Annotated[str, Field(pattern=r"^\d{2,3}\.0$")] = "62.0"
    auth: AuthMode = "jwt"
    client_id: str = ""
    username: str = ""  # JWT bearer: the integration user the token is issued for
    private_key_file: Path | None = None  # JWT bearer: PEM key of the External Client App's certificate
    # Which kind of org login_url reaches: it names the JWT audience Salesforce requires
    # (https://login.salesforce.com for production, https://test.salesforce.com for a sandbox), also
    # through a My Domain. Unset: "sandbox" for test.salesforce.com and *.sandbox.my.salesforce.com,
    # else "production".
    environment: Environment | None = None
    # JWT `aud` override; empty means the environment's audience.
    jwt_audience: str = ""
    client_secret: SecretStr | None = None
    client_secret_file: Path | None = None
    refresh_token: SecretStr | None = None
    refresh_token_file: Path | None = None
    ca_bundle: Path | None = None
    # A secret file or private key that group or others can read: refused (a config error naming it),
    # or only warned about with "warn" (e.g. a secrets volume whose modes the platform sets).
    secret_file_modes: Literal["refuse", "warn"] = "refuse"  # noqa: S105 - a policy, not a password
    connect_timeout: Annotated[float, Field(gt=0)] = 10.0
    read_timeout: Annotated[float, Field(gt=0)] = 120.0
    objects: ObjectMapping = Field(default_factory=ObjectMapping)
    lookback_seconds: Annotated[int, Field(ge=0)] = 600
    lag_seconds: Annotated[int, Field(ge=0)] = 60
    max_run_share: Annotated[float, Field(gt=0, le=1)] = 0.25
    max_org_share: Annotated[float, Field(gt=0, le=1)] = 0.80
    breaker_cooldown_seconds: Annotated[int, Field(gt=0)] = 3600
    bulk_threshold: Annotated[int, Field(gt=0)] = 2000
    # A Bulk 2.0 job is polled with backoff for at most this long; one still running is recorded in
    # the ledger and collected by a later cycle.
    bulk_deadline_seconds: Annotated[float, Field(ge=0)] = 120.0
    # A read whose result holds more rows than this goes through a Bulk 2.0 query job (backfill, and
    # any window the REST query would page through); results are read this many rows a call.
    bulk_query_threshold: Annotated[int, Field(gt=0)] = 10_000
    bulk_query_page_records: Annotated[int, Field(gt=0)] = 50_000

    @property
    def org_environment(self) -> Environment:
        """The configured environment, or the one the login URL names."""
        if self.environment is not None:
            return self.environment
        host = self.login_url.split("/")[2].split(":")[0].lower()
        sandbox = host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com")
        return "sandbox" if sandbox else "production"

    @property
    def audience(self) -> str:
        """The JWT bearer `aud`: the override, else the environment's (never the login URL itself)."""
        return (self.jwt_audience or AUDIENCES[self.org_environment]).rstrip("/")

    @model_validator(mode="before")
    @classmethod
    def _secrets_only_from_env(cls, data: Any) -> Any:
        for key in SECRET_KEYS:
            env = _ENV_PREFIX + key.upper()
            refuse_secret_from_file(data, key, env, f" or {key}_file = path of a file holding it")
        return data

    @model_validator(mode="after")
    def _auth_params_present(self) -> SalesforceSettings:
        # Read `<key>_file` secrets now, so a missing file is a config error at start-up, not mid-cycle.
        for name in (*(f"{key}_file" for key in SECRET_KEYS), "private_key_file"):
            path = getattr(self, name)
            problem = secret_file_problem(path) if path is not None else None
            if problem is not None and self.secret_file_modes == "refuse":  # noqa: S105
                raise ValueError(f'{name}: {problem} (or set secret_file_modes = "warn")')
            if problem is not None:
                structlog.get_logger(__name__).warning(
                    "secret_file_open_to_others", setting=name, problem=problem
                )
        if self.ca_bundle is not None and not self.ca_bundle.is_file():
            raise ValueError(f"ca_bundle: {self.ca_bundle} is not a file (a PEM bundle of CA certificates)")
        for key in SECRET_KEYS:
            path = getattr(self, f"{key}_file")
            if path is not None and getattr(self, key) is None:
                try:
                    secret = path.read_text(encoding="utf-8").strip()
                except OSError as exc:
                    raise ValueError(f"{key}_file: cannot read {path}: {exc.strerror}") from None
                if not secret:  # else reported below as a missing environment variable
                    raise ValueError(f"{key}_file: {path} is empty: put the {key} in it")
                object.__setattr__(self, key, SecretStr(secret))
        missing = [name for name in _REQUIRED[self.auth] if not getattr(self, name)]
        if missing:
            hints = [f"MSR_ENGAGE_SALESFORCE__{m.upper()}" if m in SECRET_KEYS else m for m in missing]
            raise ValueError(f"auth = {self.auth!r} needs {', '.join(hints)}")
        return self


_REQUIRED: dict[str, tuple[str, ...]] = {
    "jwt": ("client_id", "username", "private_key_file"),
    "client_credentials": ("client_id", "client_secret"),
    "refresh_token": ("client_id", "refresh_token"),
}
