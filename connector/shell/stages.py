"""The stages of a cycle and the one error policy over them: what a failure in a stage does.

A cycle starts (binds the org), reads the org, reads the other sources (the pixel), scores and
writes. The org stages are the cycle's purpose: a failure there ends the cycle, or the daemon when
retrying cannot help. Other sources are extras: a failure there skips that source for this cycle
(counted, with a reason) and the org's changes are still scored and written.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from connector.errors import (
    ApiLimitError,
    BudgetExceededError,
    ClockWentBackError,
    ConfigError,
    FatalError,
    ProviderGarbageError,
    ProviderRefusedError,
    ProviderUnavailableError,
    RetriableError,
)


class Stage(StrEnum):
    """A step of a cycle, in the order they run."""

    START = "start"  # open the ledger, begin the API budget, bind the ledger to its org
    READ_ORG = "read_org"
    READ_OTHER = "read_other"  # the pixel: job numbers, hit files, the provider's API
    SCORE = "score"
    WRITE = "write"


class Verdict(StrEnum):
    """What a failure does."""

    SKIP_STAGE = "skip_stage"  # record the failure with its reason, go on with the next stage
    STOP_CYCLE = "stop_cycle"  # end this cycle here; the next one starts over
    STOP_DAEMON = "stop_daemon"  # retrying cannot help: someone must fix the config or the org


class FailureReason(StrEnum):
    """Why (part of) another source was skipped: the label of the failure counts (status, /metrics)."""

    UNREADABLE_FILE = "unreadable_file"  # a directory, a FIFO, no permission, gone while read
    UNKNOWN_FORMAT = "unknown_format"  # its format is not in `[pixel] formats`
    API_UNAVAILABLE = "api_unavailable"  # network, timeout, 429 or 5xx: asked again next cycle
    API_REFUSED = "api_refused"  # 401, 403 or another 4xx: the url or the secret is wrong
    API_GARBAGE = "api_garbage"  # not JSON, or not the shape `[pixel.api]` describes
    PARSER_CRASH = "parser_crash"  # lines that made a parser raise (passed, so later lines are read)
    STAGE_ERROR = "stage_error"  # anything else (the org's job numbers, the ledger, a bug)


@dataclass(frozen=True, slots=True)
class SourceFailure:
    """One failure of another source: the source, why, which part (a file; '' = the whole source)."""

    source: str
    reason: FailureReason
    detail: str
    part: str = ""


class CycleStatus(StrEnum):
    """How a cycle ended, as the cycles table, `status` and the exit code tell it (`running` until then)."""

    OK = "ok"  # the org's changes were read, scored and written (other sources may have been skipped)
    DRY_RUN = "dry_run"  # planned and printed, nothing written
    STOPPED = "stopped"  # ended early for a reason expected to pass (limit, budget, rail, outage)
    FAILED = "failed"  # ended by a failure nobody expected: its trace is in the log

    @property
    def succeeded(self) -> bool:
        """Whether the cycle did all it was asked to (for health and metrics)."""
        return self in (CycleStatus.OK, CycleStatus.DRY_RUN)


def decide(stage: Stage, exc: Exception) -> Verdict:
    """What a failure raised in `stage` does to the cycle and the daemon: the one error policy."""
    if stage is Stage.READ_OTHER:
        # Whatever the pixel does, the org's own changes still get scored and written.
        return Verdict.SKIP_STAGE
    if isinstance(exc, ConfigError | FatalError):
        return Verdict.STOP_DAEMON
    return Verdict.STOP_CYCLE


def stopped_status(exc: Exception) -> CycleStatus:
    """The status of a cycle a failure stopped: `stopped` when expected to pass, else `failed`."""
    expected = isinstance(exc, ApiLimitError | BudgetExceededError | RetriableError | ClockWentBackError)
    return CycleStatus.STOPPED if expected else CycleStatus.FAILED


def failure_reason(exc: Exception) -> FailureReason:
    """The reason a skipped source's failure is counted under."""
    if isinstance(exc, ProviderUnavailableError):
        return FailureReason.API_UNAVAILABLE
    if isinstance(exc, ProviderRefusedError):
        return FailureReason.API_REFUSED
    if isinstance(exc, ProviderGarbageError):
        return FailureReason.API_GARBAGE
    return FailureReason.STAGE_ERROR
