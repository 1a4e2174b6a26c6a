"""The one door to the org: error classifier, retry policy, re-auth, circuit breaker, API budget.

Every call the connector makes goes through `SalesforceClient`, never through simple-salesforce's
per-object helpers (they can loop on a dead session, upstream issue #804). simple-salesforce holds the
session and builds URLs; we classify its errors in `classify` and retry in exactly one tenacity policy.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import requests
import structlog
import tenacity
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError
from simple_salesforce.util import exception_handler

from connector.config.salesforce import SalesforceSettings
from connector.errors import (
    ApiLimitError,
    AuthError,
    BudgetExceededError,
    SalesforceRequestError,
    SessionExpiredError,
    TransientError,
)
from connector.sf import bulk
from connector.sf.auth import Token, build_session, fetch_token
from connector.sf.policy import (
    ApiUsage,
    Breaker,
    RetryPolicy,
    budget_problem,
    classify,
    mapping_hints,
)
from connector.sf.readers import Page

log = structlog.get_logger(__name__)
DEFAULT_RETRY = RetryPolicy()
T = TypeVar("T")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SalesforceClient:
    """An authenticated org: every REST call, with classification, retries, re-auth and budget guards."""

    def __init__(
        self,
        settings: SalesforceSettings,
        *,
        session: requests.Session | None = None,
        login: Callable[[requests.Session], Token] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = _utcnow,
        retry: RetryPolicy = DEFAULT_RETRY,
        breaker_open_until: datetime | None = None,
    ) -> None:
        self.settings = settings
        self.session = session if session is not None else build_session(settings)
        self._login = login or (lambda s: fetch_token(settings, s))
        self._sleep = sleep
        self._clock = clock
        self._retry = retry
        self.breaker = Breaker(breaker_open_until)
        self.hints = mapping_hints(settings.objects)
        self.usage: ApiUsage | None = None
        self.calls = 0  # HTTP requests sent to the org (metrics; login not included)
        self.calls_by_kind: Counter[str] = (
            Counter()
        )  # the same, by `call_kind` (rest_query, rest_write, bulk)
        self.logins = 0
        self.org_id = ""  # from the login's identity URL; binds the ledger to its org at no API cost
        self.user_id = ""  # the integration user, from the same URL (`check` reads its profile)
        self._sf: Salesforce | None = None
        self._in_cycle = False
        self._cycle_start: ApiUsage | None = None
        self._usage_seen = False  # usage read from a response of this cycle, not left from the last one

    # -- session --------------------------------------------------------------------------------
    def connect(self) -> None:
        """Log in (again) and hand the fresh session to simple-salesforce."""
        token = self._retrying(idempotent=True)(self._login, self.session)
        self.logins += 1
        self.org_id = token.org_id
        self.user_id = token.user_id
        self._sf = Salesforce(
            session_id=token.access_token.get_secret_value(),
            instance_url=token.instance_url,
            session=self.session,
            version=self.settings.api_version,
            object_pairs_hook=dict,
        )

    @property
    def base_url(self) -> str:
        """`https://{instance}/services/data/vXX.X/` of the current session."""
        return str(self._session_sf().base_url)

    def _session_sf(self) -> Salesforce:
        if self._sf is None:
            self.connect()
        assert self._sf is not None  # connect() sets it or raises
        return self._sf

    # -- cycles and budget ----------------------------------------------------------------------
    def start_cycle(self) -> None:
        """Begin a sync cycle: refuse while the breaker is open, then guard this cycle's API budget."""
        self._check_breaker(log_skip=True)
        self._in_cycle = True
        self._cycle_start = self.usage
        self._usage_seen = False

    def end_cycle(self) -> None:
        """End the cycle's budget guard (check/discover run unguarded)."""
        self._in_cycle = False
        self._cycle_start = None

    def _check_breaker(self, log_skip: bool = False) -> None:
        now = self._clock()
        if self.breaker.is_open(now):
            until = self.breaker.open_until
            if log_skip:
                log.warning("sf_cycle_skipped", reason="api_limit_breaker_open", retry_at=until)
            raise ApiLimitError(f"Salesforce API limit reached; calls paused until {until}", until)

    def _check_budget(self) -> None:
        if not self._in_cycle:
            return
        if self._cycle_start is None:
            self._cycle_start = self.usage
        # The usage the last cycle ended on is not today's: judged by it, an org that once reached its
        # share would stop every later cycle before its first call, and never be seen to recover.
        current = self.usage if self._usage_seen else None
        problem = budget_problem(
            self._cycle_start, current, self.settings.max_run_share, self.settings.max_org_share
        )
        if problem:
            log.warning("sf_budget_stop", reason=problem)
            raise BudgetExceededError(f"stopping this cycle early: {problem}")

    # -- the one call path ----------------------------------------------------------------------
    def call(self, op: Callable[[Salesforce], T], *, idempotent: bool, kind: str = "rest_query") -> T:
        """Run `op` against the session: classify errors, retry transient ones, re-auth once.

        `kind` counts each request sent in `calls_by_kind` (see `call_kind`)."""
        self._check_breaker()
        self._check_budget()
        reauthed = False
        while True:
            try:
                result: T = self._retrying(idempotent)(self._once, op, kind)
            except SessionExpiredError:
                if reauthed:
                    raise AuthError(
                        "Salesforce rejected a freshly issued session (INVALID_SESSION_ID twice in a row): "
                        "check the connected app's session policy and IP restrictions for the integration "
                        "user"
                    ) from None
                reauthed = True
                log.info("sf_reauthenticate", reason="INVALID_SESSION_ID")
                self.connect()
            else:
                return result

    def _once(self, op: Callable[[Salesforce], T], kind: str) -> T:
        sf = self._session_sf()
        self.calls += 1
        self.calls_by_kind[kind] += 1
        try:
            return op(sf)
        except SalesforceError as exc:
            error = classify(exc.status, exc.content, self.hints)
        except requests.RequestException as exc:
            error = TransientError(f"network: {type(exc).__name__}")
        finally:
            self._note_usage(sf)
        if isinstance(error, ApiLimitError):
            until = self.breaker.trip(
                self._clock(), timedelta(seconds=self.settings.breaker_cooldown_seconds)
            )
            error.open_until = until
            log.error("sf_api_limit", retry_at=until, usage=self.usage)
        raise error

    def _note_usage(self, sf: Salesforce) -> None:
        usage = sf.api_usage.get("api-usage") if sf.api_usage else None
        if usage is not None:
            self.usage = ApiUsage(int(usage.used), int(usage.total))
            self._usage_seen = True

    def _retrying(self, idempotent: bool) -> tenacity.Retrying:
        # Writes that are not idempotent (creating a bulk job) must not run twice on a lost answer.
        return tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(TransientError) if idempotent else tenacity.retry_never,
            wait=tenacity.wait_exponential_jitter(
                initial=self._retry.initial, max=self._retry.maximum, jitter=self._retry.jitter
            ),
            stop=tenacity.stop_after_attempt(self._retry.attempts),
            sleep=self._sleep,
            reraise=True,
            before_sleep=_log_retry,
        )

    # -- REST helpers (all through `call`) -------------------------------------------------------
    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET `path` below `/services/data/vXX.X/`; parsed JSON."""
        return self.call(
            lambda sf: sf.restful(path, params=dict(params or {}), method="GET"),
            idempotent=True,
            kind=call_kind("GET", path),
        )

    def send(self, method: str, path: str, body: Any = None, *, idempotent: bool) -> Any:
        """Send a JSON body to `path` below `/services/data/vXX.X/`; parsed JSON (None when empty)."""
        return self.call(
            lambda sf: sf.restful(path, method=method, json=body),
            idempotent=idempotent,
            kind=call_kind(method, path),
        )

    def send_raw(
        self,
        method: str,
        path: str,
        *,
        data: str | None = None,
        content_type: str = "text/csv",
        headers_out: dict[str, str] | None = None,
    ) -> str:
        """Send/receive a non-JSON body (Bulk 2.0 CSV); the response text (its headers to `headers_out`)."""

        def op(sf: Salesforce) -> str:
            headers = {**sf.headers, "Content-Type": content_type, "Accept": content_type}
            response = self.session.request(
                method, sf.base_url + path, headers=headers, data=data.encode() if data else None
            )
            info = response.headers.get("Sforce-Limit-Info")
            if info:
                sf.api_usage = Salesforce.parse_api_usage(info)
            if response.status_code >= 300:
                exception_handler(response, name=path)
            if headers_out is not None:
                headers_out.update(response.headers)
            return response.text

        return self.call(op, idempotent=True, kind=call_kind(method, path))

    def query_page(self, soql: str, *, include_deleted: bool = True) -> Any:
        """The first page of a SOQL query (`queryAll` by default, so deleted rows are seen)."""
        return self.call(lambda sf: sf.query(soql, include_deleted=include_deleted), idempotent=True)

    def next_page(self, next_records_url: str) -> Any:
        """The page a `nextRecordsUrl` points at: a `/services/data/` path on the instance, nothing else."""
        # simple-salesforce pastes it after `https://{instance}`: `@evil.example/...` would send our
        # bearer token to another host, `//host/...` or a full URL likewise.
        if not isinstance(next_records_url, str) or not _NEXT_RECORDS.fullmatch(next_records_url):
            raise SalesforceRequestError(
                f"the org answered a nextRecordsUrl that is not a query path on the instance: "
                f"{str(next_records_url)[:80]!r}; not followed",
                "BAD_NEXT_RECORDS_URL",
            )
        return self.call(lambda sf: sf.query_more(next_records_url, identifier_is_url=True), idempotent=True)

    def pause(self, seconds: float) -> None:
        """Wait between polls of a Bulk 2.0 job (the client's sleep: tests pass one that moves a clock)."""
        self._sleep(seconds)

    def query_pages(
        self, soql: str, *, include_deleted: bool = True, bulk_above: int | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Every page of a query, following `nextRecordsUrl` lazily.

        With `bulk_above`, a result of more rows than that (the first page's `totalSize` says so) is
        read through a Bulk 2.0 query job instead: a few calls instead of one per 2,000 rows.
        """
        page = self.query_page(soql, include_deleted=include_deleted)
        total = page.get("totalSize")
        if (
            bulk_above is not None
            and isinstance(total, int)
            and total > bulk_above
            and not page.get("done", True)
        ):
            log.info("sf_query_via_bulk", rows=total)
            for found in self.bulk_query_pages(soql, include_deleted=include_deleted):
                records = Page(found)
                records.total = total
                yield records
            return
        while True:
            records = Page(_plain(record) for record in page.get("records", []))
            records.total = total if isinstance(total, int) else None
            yield records
            if page.get("done", True) or not page.get("nextRecordsUrl"):
                return
            page = self.next_page(page["nextRecordsUrl"])

    def bulk_query_pages(self, soql: str, *, include_deleted: bool = True) -> Iterator[list[dict[str, Any]]]:
        """Every page of a Bulk 2.0 query job for `soql` (REST-shaped records, `bulk.csv_record`)."""
        s = self.settings
        yield from bulk.query(
            self, soql, include_deleted=include_deleted, deadline=s.bulk_deadline_seconds, pause=self._sleep,
            page_records=s.bulk_query_page_records,
        )  # fmt: skip

    def count(self, soql: str) -> int:
        """`totalSize` of a `SELECT COUNT() ...` query."""
        return int(self.query_page(soql).get("totalSize", 0))

    def describe_global(self) -> dict[str, Any]:
        """`GET sobjects/`: every object the user can see."""
        return dict(self.get("sobjects/") or {})

    def describe(self, object_name: str) -> dict[str, Any]:
        """`GET sobjects/{object}/describe/`: fields, types and permissions."""
        return dict(self.get(f"sobjects/{object_name}/describe/") or {})

    def limits(self) -> dict[str, Any]:
        """`GET limits/`: the org's limits, `DailyApiRequests` among them."""
        return dict(self.get("limits/") or {})


_NEXT_RECORDS = re.compile(r"/services/data/v\d{2,3}\.\d/query(?:All)?/[A-Za-z0-9]{1,18}-\d{1,9}")


def call_kind(method: str, path: str) -> str:
    """What a request counts as in the metrics: `bulk` (Bulk 2.0 jobs), `rest_query` (reads) or
    `rest_write` (sObject and Collections writes and deletes)."""
    if path.startswith("jobs/"):
        return "bulk"
    return "rest_query" if method.upper() == "GET" else "rest_write"


def _plain(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record without Salesforce's `attributes` block (nested relationship records too)."""
    return {
        key: (_plain(value) if isinstance(value, Mapping) else value)
        for key, value in record.items()
        if key != "attributes"
    }


def _log_retry(state: tenacity.RetryCallState) -> None:
    outcome = state.outcome
    error = outcome.exception() if outcome is not None else None
    log.warning(
        "sf_retry",
        attempt=state.attempt_number,
        wait_seconds=round(state.next_action.sleep, 2) if state.next_action else None,
        error=str(error)[:200],
    )


def connect(settings: SalesforceSettings, **kwargs: Any) -> SalesforceClient:
    """Build a client for `settings` and log in now (so bad credentials fail at start-up)."""
    client = SalesforceClient(settings, **kwargs)
    client.connect()
    return client
