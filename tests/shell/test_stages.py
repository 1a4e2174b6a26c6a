"""The one error policy: what a failure in each stage of a cycle does."""

from __future__ import annotations

import sqlite3

import pytest

from connector.errors import (
    ApiLimitError,
    AuthError,
    BudgetExceededError,
    ConfigError,
    FatalError,
    MappingError,
    ProviderGarbageError,
    ProviderRefusedError,
    ProviderUnavailableError,
    SalesforceRequestError,
    TransientError,
)
from connector.shell.stages import FailureReason, Stage, Verdict, decide, failure_reason, stopped_status

ORG_STAGES = [Stage.START, Stage.READ_ORG, Stage.SCORE, Stage.WRITE]
ANYTHING = [
    ConfigError("bad"), AuthError("refused"), ProviderRefusedError("401"), ProviderGarbageError("html"),
    ProviderUnavailableError("503"), TransientError("503"), ApiLimitError("limit"), RuntimeError("bug"),
    sqlite3.OperationalError("database is locked"),
]  # fmt: skip


@pytest.mark.parametrize("exc", ANYTHING, ids=lambda e: type(e).__name__)
def test_any_failure_of_another_source_skips_only_that_stage(exc: Exception) -> None:
    assert decide(Stage.READ_OTHER, exc) is Verdict.SKIP_STAGE


UNFIXABLE = [
    ConfigError("x"), MappingError("Medal__c not found"), AuthError("x"), SalesforceRequestError("x"),
    FatalError("belongs to org 00D2"),
]  # fmt: skip
PASSING = [
    (TransientError("503"), "stopped"), (ApiLimitError("limit"), "stopped"),
    (BudgetExceededError("share"), "stopped"), (RuntimeError("bug"), "failed"),
    (sqlite3.OperationalError("database is locked"), "failed"),
]  # fmt: skip


@pytest.mark.parametrize("stage", ORG_STAGES)
@pytest.mark.parametrize("exc", UNFIXABLE, ids=lambda e: type(e).__name__)
def test_what_retrying_cannot_fix_in_an_org_stage_stops_the_daemon(stage: Stage, exc: Exception) -> None:
    assert decide(stage, exc) is Verdict.STOP_DAEMON


@pytest.mark.parametrize("stage", ORG_STAGES)
@pytest.mark.parametrize(("exc", "status"), PASSING, ids=lambda e: type(e).__name__)
def test_anything_else_in_an_org_stage_ends_only_the_cycle(stage: Stage, exc: Exception, status: str) -> None:
    assert decide(stage, exc) is Verdict.STOP_CYCLE
    assert stopped_status(exc) == status


def test_a_skipped_source_is_counted_under_the_reason_its_error_names() -> None:
    assert failure_reason(ProviderUnavailableError("HTTP 503")) is FailureReason.API_UNAVAILABLE
    assert failure_reason(ProviderRefusedError("HTTP 401")) is FailureReason.API_REFUSED
    assert failure_reason(ProviderGarbageError("not JSON")) is FailureReason.API_GARBAGE
    assert failure_reason(TransientError("org 503 while reading job numbers")) is FailureReason.STAGE_ERROR
    assert failure_reason(KeyError("a bug")) is FailureReason.STAGE_ERROR
