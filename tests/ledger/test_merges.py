"""A merge in the ledger: the loser's history moves to the survivor once, the loser is tombstoned."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from connector.details import ContactKind, ErasureReason, LineFacts, Medal, RecruitmentDetails, StoredState
from connector.events import CONTACT_UPDATED, make_event
from connector.ledger import Ledger
from connector.ledger.consent import consent_of
from connector.ledger.erasure import tombstones
from connector.ledger.merges import merge_contacts

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
A, B, C = "003A00000000000AAA", "003B00000000000AAA", "003C00000000000AAA"


def _state(contact: str, medal: Medal | None, qualified: date | None) -> StoredState:
    details = RecruitmentDetails(score=10, medal=medal, first_qualified_on=qualified)
    return StoredState(contact, ContactKind.CANDIDATE, details, lines={"intake": LineFacts(10, 1)})


def test_a_chain_of_merges_ends_at_the_last_survivor_with_every_event_once(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        shared = make_event(A, "email.opened", T0, {"message_id": "02s1"}, id="same-occurrence")
        ledger.append([
            shared, make_event(A, "application.step", T0, {"step": "Voorgesteld"}, id="a-step"),
            make_event(A, CONTACT_UPDATED, T0, {"tracking_consent": True}, id="a-consent"),
            make_event(B, "email.opened", T0, {"message_id": "02s1"}, id="same-occurrence"),
            make_event(C, CONTACT_UPDATED, T0, {"tracking_consent": False}, id="c-consent"),
        ])  # fmt: skip
        states = [_state(A, Medal.SILVER, date(2026, 1, 5)), _state(C, Medal.BRONZE, date(2026, 2, 1))]
        ledger.save_states(states, T0)
        assert merge_contacts(ledger, {A: B}, T0, {A: {f"{A}:intake"}}) == {A: B}
        assert merge_contacts(ledger, {B: C}, T0, {}) == {B: C}
        ids = sorted(e.id for e in ledger.events_of([C])[C])
        assert ids == ["a-step", "c-consent", "same-occurrence"]  # the loser's answer stays behind
        assert consent_of(ledger, [C])[C][0] is False  # the survivor's own answer wins
        state = ledger.states([C])[C]
        assert (state.details.medal, state.details.first_qualified_on) == (Medal.SILVER, date(2026, 1, 5))
        assert C in ledger.dirty_contacts()
        stones = {t.contact_id: t.reason for t in tombstones(ledger)}
        assert stones == {A: ErasureReason.MERGED, B: ErasureReason.MERGED}
        keys = dict(ledger.db.execute("SELECT contact_id, org_keys FROM tombstones").fetchall())
        assert json.loads(keys[A]) == [f"{A}:intake"]
        # Merging again (the record read again) changes nothing; nothing is taken in for a loser.
        assert merge_contacts(ledger, {A: B}, T0, {}) == {}
        assert ledger.append([make_event(A, "email.opened", T0, {}, id="late")]).added == 0


def test_a_chain_read_in_one_batch_goes_straight_to_its_end(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.append([make_event(A, "application.step", T0, {"step": "Intake verwerkt"}, id="a-step")])
        assert merge_contacts(ledger, {A: B, B: C}, T0, {}) == {A: C, B: C}
        assert [e.id for e in ledger.events_of([A, B, C]).get(C, [])] == ["a-step"]
        assert set(ledger.events_of([A, B])) == set()
