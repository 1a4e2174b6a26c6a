"""The `[pixel]` table: visit-log sources, vacancy URL patterns, sessions, identity and the collector."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from connector.config.scoring import Strict
from connector.config.secrets import refuse_secret_from_file

PositiveInt = Annotated[int, Field(gt=0)]
LogFormat = Literal["ndjson", "csv", "combined"]
_ENV_PREFIX = "MSR_ENGAGE_PIXEL__"


class PixelApi(Strict):
    """`[pixel.api]`: the provider's HTTP API, read page by page with a cursor."""

    url: Annotated[str, Field(pattern=r"^https://\S+$")]  # https only: the auth header goes along
    auth_header: str = "Authorization"
    auth_value: SecretStr | None = None  # env only: MSR_ENGAGE_PIXEL__API__AUTH_VALUE
    cursor_param: str = "cursor"
    page_size_param: str = "limit"
    page_size: PositiveInt = 1000
    items_key: str = "hits"
    next_cursor_key: str = "next_cursor"
    # Our hit field -> the provider's JSON key (time, url, referrer, user_agent, ip, visitor_id, token).
    field_map: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    max_pages: PositiveInt = 1000  # one run stops here; the cursor resumes next time

    @model_validator(mode="before")
    @classmethod
    def _secret_only_from_env(cls, data: Any) -> Any:
        refuse_secret_from_file(data, "auth_value", _ENV_PREFIX + "API__AUTH_VALUE")
        return data


class Collector(Strict):
    """`[pixel.collector]`: our own pixel endpoint (`msr-engage pixel serve`)."""

    host: str = "127.0.0.1"  # loopback by default: put a reverse proxy with TLS in front
    port: Annotated[int, Field(ge=0, le=65535)] = 8787
    # The URL browsers reach the collector at; baked into the JS snippet (never taken from the request).
    public_url: str = ""
    folder: Path | None = None  # where hit files go; default: the [pixel] folder
    cookie_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,32}$")] = "msr_vid"
    cookie_days: PositiveInt = 390
    consent_flag: Annotated[str, Field(pattern=r"^[A-Za-z_$][A-Za-z0-9_$]{0,63}$")] = "msrEngageConsent"
    max_request_bytes: PositiveInt = 4096
    hits_per_minute_per_ip: PositiveInt = 120
    # Reverse proxies in front of the collector that set X-Forwarded-For (hops, counted from us). 0: the
    # peer address is the client. Behind one proxy set 1, or one client's rate limit stops everyone.
    trusted_proxies: Annotated[int, Field(ge=0, le=5)] = 0
    # Every socket read and write: a half-sent request is closed after this, not held for ever.
    request_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 10.0
    # Hit files the ingest has read to their end are deleted once their day is this many days old.
    retention_days: PositiveInt = 7

    @field_validator("public_url")
    @classmethod
    def _https_url(cls, value: str) -> str:
        if value and not re.fullmatch(r"https://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError("must be an https:// URL without query (browsers reach the collector there)")
        return value


class PixelSettings(Strict):
    """`[pixel]`: where hits come from and how they become visits and job views."""

    folder: Path = Path("pixel")  # relative paths are taken from the working directory
    formats: tuple[LogFormat, ...] = ("ndjson", "csv", "combined")
    pixel_path: str = "/p.gif"  # combined logs: only requests for this path are hits
    # Regexes with a named group `job_id` (an msf__Job__c id) or `job_number` (looked up in the org).
    vacancy_patterns: tuple[str, ...] = (
        r"/vacatures?/(?:[^/?#]*-)?(?P<job_id>a0[A-Za-z0-9]{13}(?:[A-Za-z0-9]{3})?)\b",
    )
    idle_minutes: PositiveInt = 30
    attribution_days: PositiveInt = 30  # anonymous hits this old are still credited when a visitor is known
    max_hits_per_minute: PositiveInt = 60  # one visitor above this in any minute is a robot
    max_line_bytes: PositiveInt = 8192
    token_param: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,32}$")] = "mt"  # noqa: S105 - a query parameter name
    token_secret: SecretStr | None = None  # env only: MSR_ENGAGE_PIXEL__TOKEN_SECRET (signs new links)
    # env only: MSR_ENGAGE_PIXEL__TOKEN_PREVIOUS_SECRETS='["old-secret", ...]': still accepted (rotation)
    token_previous_secrets: tuple[SecretStr, ...] = ()
    token_days: Annotated[int, Field(ge=0)] = 0  # lifetime of new links; 0: they never expire
    accept_v1_tokens: bool = True  # links of the old format (no key id, no expiry) still count
    # Hosts of the agency's site (e.g. "www.example.nl"): a hit on any other page counts for nothing.
    # Empty: every host counts (ingest only; `pixel serve` refuses to run without them).
    site_hosts: tuple[Annotated[str, Field(pattern=r"^[a-z0-9.-]{1,253}(:\d{1,5})?$")], ...] = ()
    # Query parameters kept in stored page URLs; every other one (e-mail addresses, names) is dropped.
    keep_query_params: tuple[str, ...] = ()
    referrer: Literal["host", "none"] = "host"  # what of the referrer is kept: its host, or nothing
    max_visits_per_contact_day: PositiveInt = 50  # above this, a contact's visits of the day are dropped
    max_visitors_per_contact_day: PositiveInt = 5  # distinct visitor ids credited to one contact a day
    api: PixelApi | None = None
    collector: Collector = Field(default_factory=Collector)

    @property
    def needs_job_numbers(self) -> bool:
        """True when a vacancy pattern names vacancies by number, to be looked up in the org."""
        return any("(?P<job_number>" in pattern for pattern in self.vacancy_patterns)

    @model_validator(mode="before")
    @classmethod
    def _secret_only_from_env(cls, data: Any) -> Any:
        refuse_secret_from_file(data, "token_secret", _ENV_PREFIX + "TOKEN_SECRET")
        refuse_secret_from_file(data, "token_previous_secrets", _ENV_PREFIX + "TOKEN_PREVIOUS_SECRETS")
        return data

    @field_validator("token_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # A short HMAC key can be brute-forced from one token; 16 characters is the floor.
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("token_previous_secrets")
    @classmethod
    def _all_long_enough(cls, values: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        if any(len(v.get_secret_value()) < 16 for v in values):
            raise ValueError("every previous secret must be at least 16 characters")
        return values

    @model_validator(mode="after")
    def _rotation_needs_a_current_secret(self) -> PixelSettings:
        if self.token_previous_secrets and self.token_secret is None:
            raise ValueError("token_previous_secrets needs MSR_ENGAGE_PIXEL__TOKEN_SECRET (the new secret)")
        return self

    @field_validator("vacancy_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                groups = re.compile(pattern).groupindex
            except re.error as exc:
                raise ValueError(f"{pattern!r}: not a regular expression: {exc}") from None
            if not {"job_id", "job_number"} & groups.keys():
                raise ValueError(f"{pattern!r}: needs a named group (?P<job_id>...) or (?P<job_number>...)")
        return patterns

    @property
    def collector_folder(self) -> Path:
        """The folder the collector writes hit files to."""
        return self.collector.folder or self.folder
