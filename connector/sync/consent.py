"""Tracking consent before and after a batch → its changes and its withdrawals. Pure."""

from __future__ import annotations

from collections.abc import Mapping

Answer = tuple[bool, int]  # the answer and its time (epoch microseconds)


def consent_changes(before: Mapping[str, Answer], after: Mapping[str, Answer]) -> list[tuple[str, bool, int]]:
    """Contacts whose answer is new or differs from before: (contact, answer, its time), by contact."""
    return [
        (cid, answer, at)
        for cid, (answer, at) in sorted(after.items())
        if cid not in before or before[cid][0] != answer
    ]


def withdrawals(before: Mapping[str, Answer], after: Mapping[str, Answer]) -> list[str]:
    """Contacts whose consent went from yes to no."""
    return [
        cid for cid, (answer, _) in sorted(after.items()) if not answer and before.get(cid, (False, 0))[0]
    ]
