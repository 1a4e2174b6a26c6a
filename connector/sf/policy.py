"""The error policy as pure functions and plain data: classifier, usage, breaker, retry and budget rules.

`classify` is the one place an HTTP status and Salesforce errorCode become a class of our error tree
(salesforce-notes.md, "Errors: what to retry"). Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connector.config.salesforce import ObjectMapping
from connector.errors import (
    ApiLimitError,
    MappingError,
    MsrEngageError,
    QueryLocatorError,
    QueryTimeoutError,
    SalesforceRequestError,
    SessionExpiredError,
    TransientError,
)

RETRY_STATUSES = frozenset({406, 420, 429})
# Codes that mean the mapping (or the integration user's permissions) is wrong: retrying cannot help.
CONFIG_CODES = frozenset(
    {
        "INVALID_FIELD",
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        "MALFORMED_QUERY",
        "INVALID_TYPE",
        "NOT_FOUND",
        "INSUFFICIENT_ACCESS",
        "INSUFFICIENT_ACCESS_OR_READONLY",
        "API_DISABLED_FOR_ORG",
    }
)


@dataclass(frozen=True)
class ApiUsage:
    """Daily API requests used and allowed, from `Sforce-Limit-Info: api-usage=used/total`."""

    used: int
    total: int

    @property
    def share(self) -> float:
        """Used share of the org's daily limit (0..1)."""
        return self.used / self.total if self.total else 0.0


@dataclass
class Breaker:
    """Opened by REQUEST_LIMIT_EXCEEDED; `open_until` is plain data the caller may persist and restore."""

    open_until: datetime | None = None

    def is_open(self, now: datetime) -> bool:
        """Whether calls must wait (until `open_until`)."""
        return self.open_until is not None and now < self.open_until

    def trip(self, now: datetime, cooldown: timedelta) -> datetime:
        """Open the breaker for `cooldown` from `now`; return when it closes."""
        self.open_until = now + cooldown
        return self.open_until


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; tests pass `sleep` that does not sleep."""

    attempts: int = 6
    initial: float = 1.0
    maximum: float = 60.0
    jitter: float = 1.0


def error_body(body: Any) -> tuple[str, str]:
    """(errorCode, message) from a Salesforce error body (a JSON list, an OAuth dict or text)."""
    if isinstance(body, list) and body and isinstance(body[0], Mapping):
        return str(body[0].get("errorCode", "")), str(body[0].get("message", ""))
    if isinstance(body, Mapping):
        code = body.get("errorCode") or body.get("error") or ""
        return str(code), str(body.get("message") or body.get("error_description") or "")
    return "", str(body or "")[:300]


def classify(status: int, body: Any, hints: Mapping[str, str] | None = None) -> MsrEngageError:
    """The one mapping from an HTTP status and Salesforce errorCode to our error tree."""
    code, message = error_body(body)
    said = f"HTTP {status} {code}: {message}".strip()
    if status == 401 or code == "INVALID_SESSION_ID":
        return SessionExpiredError(said)
    if code == "REQUEST_LIMIT_EXCEEDED":
        return ApiLimitError(said)
    if code == "QUERY_TIMEOUT":
        return QueryTimeoutError(said)
    if code == "INVALID_QUERY_LOCATOR":
        return QueryLocatorError(said)
    if status >= 500 or status in RETRY_STATUSES or code in ("UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE"):
        return TransientError(said)
    if code in CONFIG_CODES or status == 404:
        keys = keys_named_in(message, hints or {})
        fix = f"fix {' or '.join(keys)}" if keys else "check [salesforce.objects] and the user's permissions"
        return MappingError(f"Salesforce: {said} ({fix}; `msr-engage check` lists every problem)")
    return SalesforceRequestError(f"Salesforce: {said}", code, status)


def mapping_hints(objects: ObjectMapping) -> dict[str, str]:
    """API name → mapping key, e.g. `Contact.Lead_Score__c` → `salesforce.objects.contact.score`."""
    hints: dict[str, str] = {}
    for group, fields in objects:
        obj = fields.object
        hints[obj] = f"salesforce.objects.{group}.object"
        for key, value in fields:
            if key != "object" and isinstance(value, str) and value[:1].isupper():
                hints[f"{obj}.{value}"] = f"salesforce.objects.{group}.{key}"
    return hints


def keys_named_in(message: str, hints: Mapping[str, str]) -> list[str]:
    """The mapping keys whose API names appear in an error message (field keys before object keys)."""
    entities = {name for name in hints if "." not in name and _mentions(message, name)}
    found = [
        key
        for name, key in hints.items()
        if "." in name
        and _mentions(message, name.split(".", 1)[1])
        and (not entities or name.split(".", 1)[0] in entities)
    ]
    return found or [hints[name] for name in sorted(entities)]


def _mentions(message: str, name: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", message) is not None


def budget_problem(
    start: ApiUsage | None, current: ApiUsage | None, max_run_share: float, max_org_share: float
) -> str | None:
    """Why a cycle must stop now (None: go on). `start` is the usage when the cycle began."""
    if current is None:
        return None
    if current.total and current.used >= max_org_share * current.total:
        return f"org has used {current.used}/{current.total} daily API calls (≥ {max_org_share:.0%})"
    if start is not None:
        left = start.total - start.used
        run = current.used - start.used
        if run > max_run_share * left:
            return f"this cycle used {run} API calls, more than {max_run_share:.0%} of the {left} left today"
    return None
