"""Consent before and after a batch: its changes (evidence) and its withdrawals (yes → no only)."""

from __future__ import annotations

from connector.sync.consent import consent_changes, withdrawals

BEFORE = {"003A": (True, 1), "003B": (False, 1), "003C": (True, 1)}
AFTER = {"003A": (False, 5), "003B": (True, 5), "003C": (True, 1), "003D": (False, 5)}


def test_changes_are_new_or_different_answers_with_their_time() -> None:
    assert consent_changes(BEFORE, AFTER) == [("003A", False, 5), ("003B", True, 5), ("003D", False, 5)]


def test_only_yes_to_no_is_a_withdrawal_a_first_no_is_not() -> None:
    assert withdrawals(BEFORE, AFTER) == ["003A"]
