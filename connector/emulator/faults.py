"""Fault injection: scripted bursts and random rates of the failures a real org produces.

Each fault is observable the way Salesforce shows it: an HTTP 500/503 with an error body, a response
that arrives late (a client read timeout), a per-record `UNABLE_TO_LOCK_ROW`, a query answering 400
`QUERY_TIMEOUT` (the next `count` queries, or every query matching more than `rows_over` rows — a
smaller window then passes, as on an org whose big windows run too long). Token expiry, the daily
limit and commit lag live with the state they affect (`Emulator`, `Store`).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from connector.emulator.values import RecordError

HTTP_ERROR_BODIES = {
    # The daily limit used up by another integration between two of our calls: the connector's own
    # budget guard reads the usage header, so only someone else can take the org's last calls.
    403: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    500: ("UNKNOWN_EXCEPTION",
          "An unexpected error occurred. Please include this ErrorId if you contact support: emulated-500"),
    502: ("UNKNOWN_EXCEPTION", "Bad gateway (emulated fault)"),
    503: ("SERVER_UNAVAILABLE", "Server is temporarily unavailable (emulated fault)"),
}  # fmt: skip


@dataclass
class _Burst:
    remaining: int
    endpoint: str | None
    value: float  # HTTP status for errors, seconds for delays


@dataclass
class Faults:
    """The fault plan; every method is safe to call from tests while the server runs."""

    seed: int = 7
    error_rate: float = 0.0
    error_status: int = 503
    lock_rate: float = 0.0
    _errors: list[_Burst] = field(default_factory=list)
    _delays: list[_Burst] = field(default_factory=list)
    _locks_left: int = 0
    _locked_ids: set[str] = field(default_factory=set)
    _invalid: dict[str, str] = field(default_factory=dict)  # record id -> validation rule message
    _timeouts_left: int = 0
    _timeout_rows_over: int | None = None
    _timeout_object: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def fail_next(self, count: int, status: int = 503, endpoint: str | None = None) -> None:
        """The next `count` API calls (to `endpoint`, or any) answer HTTP `status` (403, 500, 502 or 503)."""
        if status not in HTTP_ERROR_BODIES:
            raise ValueError(f"unsupported fault status {status}: use one of {sorted(HTTP_ERROR_BODIES)}")
        with self._lock:
            self._errors.append(_Burst(count, endpoint, status))

    def set_error_rate(self, rate: float, status: int = 503) -> None:
        """Fail this share of API calls at random (seeded, so a run is repeatable)."""
        with self._lock:
            self.error_rate, self.error_status = rate, status

    def delay_next(self, count: int, seconds: float, endpoint: str | None = None) -> None:
        """Hold the next `count` responses for `seconds` before answering (a client read timeout)."""
        with self._lock:
            self._delays.append(_Burst(count, endpoint, seconds))

    def lock_rows(self, count: int = 0, ids: set[str] | None = None, rate: float = 0.0) -> None:
        """Fail with UNABLE_TO_LOCK_ROW the next `count` record writes, writes to `ids`, or a share `rate`."""
        with self._lock:
            self._locks_left += count
            self._locked_ids |= set(ids or ())
            self.lock_rate = rate

    def reject_records(
        self, ids: set[str], message: str = "Candidate is blocked for automated updates"
    ) -> None:
        """A validation rule refuses every write to `ids` (FIELD_CUSTOM_VALIDATION_EXCEPTION, permanent)."""
        with self._lock:
            self._invalid.update(dict.fromkeys(ids, message))

    def query_timeouts(
        self, count: int = 0, rows_over: int | None = None, sobject: str | None = None
    ) -> None:
        """The next `count` queries, or every query matching more than `rows_over` rows, time out
        (only queries of `sobject`, when named)."""
        with self._lock:
            self._timeouts_left += count
            self._timeout_rows_over = rows_over
            self._timeout_object = sobject

    def query_timeout(self, rows: int, sobject: str = "") -> bool:
        """Whether a query of `sobject` matching `rows` rows must answer QUERY_TIMEOUT."""
        with self._lock:
            if self._timeout_object is not None and sobject.lower() != self._timeout_object.lower():
                return False
            if self._timeouts_left > 0:
                self._timeouts_left -= 1
                return True
            return self._timeout_rows_over is not None and rows > self._timeout_rows_over

    def clear(self) -> None:
        """Remove every scripted fault and rate."""
        with self._lock:
            self._invalid.clear()
            self._errors.clear()
            self._delays.clear()
            self._locks_left, self._locked_ids = 0, set()
            self._timeouts_left, self._timeout_rows_over, self._timeout_object = 0, None, None
            self.error_rate = self.lock_rate = 0.0

    def http_failure(self, endpoint: str) -> int | None:
        """The HTTP status this call must fail with, if any."""
        with self._lock:
            status = _take(self._errors, endpoint)
            if status is not None:
                return int(status)
            if self.error_rate and self._rng.random() < self.error_rate:
                return self.error_status
        return None

    def delay_for(self, endpoint: str) -> float:
        """Seconds to hold this response before answering (0 for none)."""
        with self._lock:
            return _take(self._delays, endpoint) or 0.0

    def row_lock(self, obj: str, record_id: str | None) -> RecordError | None:
        """A per-record failure for this write, if the plan says so: a validation rule, or a lock."""
        with self._lock:
            if record_id is not None and record_id in self._invalid:
                return RecordError("FIELD_CUSTOM_VALIDATION_EXCEPTION", self._invalid[record_id])
            hit = record_id is not None and record_id in self._locked_ids
            if not hit and self._locks_left > 0:
                self._locks_left -= 1
                hit = True
            if not hit and self.lock_rate and self._rng.random() < self.lock_rate:
                hit = True
        if not hit:
            return None
        return RecordError(
            "UNABLE_TO_LOCK_ROW",
            f"unable to obtain exclusive access to this record or 1 records: {record_id or obj}",
        )


def _take(bursts: list[_Burst], endpoint: str) -> float | None:
    """Consume one unit of the first burst that matches `endpoint`."""
    for burst in bursts:
        if burst.endpoint in (None, endpoint):
            burst.remaining -= 1
            if burst.remaining <= 0:
                bursts.remove(burst)
            return burst.value
    return None
