"""The ledger on real SQLite: migrations, idempotent appends, cursors with events, dirty tracking."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.details import Band, ContactKind, LineFacts, Medal, RecruitmentDetails, StoredState
from connector.events import Event, from_micros, make_event, to_micros
from connector.ledger import MIGRATIONS, Ledger
from connector.ledger.pixel_state import consented_contacts

T0 = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)


def events(n: int, contact: str = "003A") -> list[Event]:
    return [
        make_event(contact, "email.opened", T0 + timedelta(minutes=i), {"message_id": f"m{i}"})
        for i in range(n)
    ]


def test_migrations_are_named_and_applied_once(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    Ledger(path).close()
    with Ledger(path) as ledger:
        names = [row[0] for row in ledger.db.execute("SELECT name FROM migrations ORDER BY rowid")]
    assert names == [m.__name__ for m in MIGRATIONS]
    assert ledger.path == path


def test_append_is_idempotent_by_event_id(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        first = ledger.append(events(5))
        again = ledger.append(events(5) + events(2, "003B"))
        assert (first.added, first.duplicates) == (5, 0)
        assert (again.added, again.duplicates) == (2, 5)
        assert ledger.count_events() == 7


def test_events_round_trip_exactly(tmp_path: Path) -> None:
    original = make_event("003A", "web.visit", T0.replace(microsecond=123456), {"pages": 3, "url": "/é"})
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.append([original])
        assert ledger.events_of(["003A"]) == {"003A": [original]}
        assert list(ledger.scan()) == [("003A", [original])]


def test_only_contacts_with_new_events_become_dirty(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.append(events(3, "003A") + events(1, "003B"))
        ledger.clear_dirty(["003A", "003B"])
        ledger.append(events(3, "003A") + events(1, "003C"))  # 003A's are duplicates
        assert ledger.dirty_contacts() == ["003C"]


def test_cursor_moves_only_with_its_events(tmp_path: Path) -> None:
    def failing() -> Iterator[Event]:
        yield from events(3)
        raise RuntimeError("source broke mid-read")

    with Ledger(tmp_path / "l.db") as ledger:
        with ledger.transaction():
            ledger.set_cursor("org", "2026-03-01T00:00:00Z", T0)
            ledger.append(events(1))

        def step() -> None:
            with ledger.transaction():
                ledger.set_cursor("org", "2026-03-02T00:00:00Z", T0)
                ledger.append(failing())

        with pytest.raises(RuntimeError):
            step()
        assert ledger.cursor("org") == "2026-03-01T00:00:00Z"
        assert ledger.count_events() == 1


def test_nested_transactions_commit_once_with_the_outermost(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger, Ledger(tmp_path / "l.db") as reader:
        with ledger.transaction():
            ledger.append(events(1))
            with ledger.transaction():
                ledger.set_meta("k", "v")
            assert reader.meta("k") is None  # an inner block is not a commit
            assert reader.count_events() == 0
        assert reader.meta("k") == "v"
        assert reader.count_events() == 1

        def failing_step() -> None:
            with ledger.transaction():
                ledger.set_meta("k", "w")
                with ledger.transaction():
                    ledger.append(events(2, "003B"))
                raise RuntimeError("the step failed after its inner block")

        with pytest.raises(RuntimeError):
            failing_step()
        assert reader.meta("k") == "v"
        assert reader.count_events() == 1


def test_states_are_stored_and_read_back(tmp_path: Path) -> None:
    details = RecruitmentDetails(55, Band.WARM, Medal.SILVER, date(2026, 3, 2))
    lines = {"intake": LineFacts(30, 2, date(2026, 3, 10), date(2026, 6, 1)), "inactivity": LineFacts(-5)}
    row = StoredState("003A", ContactKind.CANDIDATE, details, date(2026, 3, 10), lines)
    with Ledger(tmp_path / "l.db") as ledger:
        assert ledger.save_states([row], T0) == 1
        assert ledger.states(["003A", "003Z"]) == {"003A": row}
        assert ledger.states() == {"003A": row}


def test_meta_values_persist(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.set_meta("org_id", "00D000000000001")
    with Ledger(tmp_path / "l.db") as ledger:
        assert ledger.meta("org_id") == "00D000000000001"


@given(st.integers(-(2**40), 2**52))
def test_micros_round_trip(value: int) -> None:
    assert to_micros(from_micros(value)) == value


ids = st.text(alphabet="ABC", min_size=1, max_size=2)
stamps = st.integers(0, 10_000).map(lambda m: T0 + timedelta(minutes=m))
generated = st.builds(lambda c, t, k: make_event(c, k, t), ids, stamps, st.sampled_from(["a", "b"]))


# Each example opens a fresh ledger (every migration, a commit each): on a loaded machine that alone
# can pass hypothesis' 200 ms deadline, which says nothing about what the test checks.
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.lists(generated, max_size=30), st.randoms())
def test_ingest_twice_in_any_order_equals_ingest_once(
    tmp_path: Path, batch: list[Event], rnd: object
) -> None:
    path = tmp_path / f"p{abs(hash(tuple(e.id for e in batch)))}.db"
    shuffled = batch[:]
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    with Ledger(path) as ledger:
        ledger.append(batch)
        second = ledger.append(shuffled)
        assert second.added == 0
        assert ledger.count_events() == len({(e.contact_id, e.id) for e in batch})
    for leftover in tmp_path.glob(f"{path.name}*"):
        leftover.unlink()


def consent_event(contact: str, answer: object, minutes: int) -> Event:
    return make_event(
        contact, "contact.updated", T0 + timedelta(minutes=minutes), {"tracking_consent": answer}
    )


CONSENT_HISTORY = [
    consent_event("003A", True, 0),
    consent_event("003B", True, 0),
    consent_event("003B", False, 10),  # the latest answer wins
    consent_event("003C", False, 10),
    consent_event("003C", True, 5),  # read after a later answer: it does not win
    consent_event("003D", "yes", 0),  # not a boolean: no answer
    consent_event("003E", True, 0),
    make_event("003E", "contact.updated", T0 + timedelta(minutes=20), {"kind": "candidate"}),  # silent
]


def test_the_latest_consent_answer_wins_whatever_order_events_arrive_in(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        for event in CONSENT_HISTORY:
            ledger.append([event])
        assert consented_contacts(ledger) == {"003A", "003E"}


def test_an_upgraded_ledger_learns_consent_from_the_events_it_already_has(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with Ledger(path) as ledger:
        ledger.append(CONSENT_HISTORY)
        # As a ledger written before the consent table existed:
        ledger.db.conn.executescript(
            "DROP TRIGGER events_keep_consent; DROP TABLE contact_consent;"
            " DELETE FROM migrations WHERE name = 'contact_consent';"
        )
    with Ledger(path) as upgraded:
        assert consented_contacts(upgraded) == {"003A", "003E"}


def test_accepted_writes_keep_their_latest_cycle_time_until_the_contact_is_erased(tmp_path: Path) -> None:
    from connector.ledger.sync_state import has_written, purge_contacts, save_written, written_at

    line, later = "Lead_Score_Line__c", T0 + timedelta(hours=1)
    with Ledger(tmp_path / "l.db") as ledger:
        assert not has_written(ledger, line)
        save_written(ledger, [("Contact", "003A", "003A"), (line, "003A:intake", "003A")], T0)
        save_written(ledger, [(line, "003A:intake", "003A"), (line, "003B:intake", "003B")], later)
        assert written_at(ledger, line, ["003A:intake", "003B:intake", "003C:intake"]) == {
            "003A:intake": later,
            "003B:intake": later,
        }
        assert written_at(ledger, "Contact", ["003A"]) == {"003A": T0}
        purge_contacts(ledger, ["003A", "003B"])
        assert written_at(ledger, "Contact", ["003A"]) == {}
        assert not has_written(ledger, line)
