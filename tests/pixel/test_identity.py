"""Tokens, visitor links, retroactive attribution and the shared-computer guard."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from connector.pixel.hits import Hit, Reason
from connector.pixel.identity import PendingHit, attribute, sign_token, verify_token
from tests.pixel.helpers import SECRET, T0, token

KEY = SECRET.encode()
WINDOW = timedelta(days=30)


def at(minutes: float, visitor: str = "v1", tok: str = "") -> Hit:
    return Hit(T0 + timedelta(minutes=minutes), f"https://site.nl/p{minutes}", visitor_id=visitor, token=tok)


def run(hits: list[Hit], **kwargs: object):  # type: ignore[no-untyped-def]
    args = {"links": {}, "shared": (), "waiting": ()} | kwargs
    return attribute(hits, secret=KEY, now=T0 + timedelta(days=1), window=WINDOW, **args)  # type: ignore[arg-type]


def test_a_token_verifies_only_for_its_contact_and_secret() -> None:
    good = token("003A00000012345")
    assert verify_token(good, KEY) == "003A00000012345"
    contact, _, signature = good.partition(".")
    assert verify_token(f"003A00000012346.{signature}", KEY) is None  # tampered id
    assert verify_token(f"{contact}.{signature[:-1]}x", KEY) is None  # tampered signature
    assert verify_token(good, b"another-secret-of-some-length") is None
    assert verify_token("no-dot-at-all", KEY) is None
    assert verify_token(".", KEY) is None


@given(st.text(max_size=80))
def test_no_made_up_token_verifies(text: str) -> None:
    assert verify_token(text, KEY) is None or text == sign_token(text.partition(".")[0], KEY)


def test_a_forged_token_is_rejected_and_counted() -> None:
    forged = "003FORGED.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    result = run([at(0, tok=forged)])
    assert result.credited == []
    assert result.rejected[Reason.FORGED_TOKEN] == 1
    assert result.links == {}


def test_earlier_anonymous_hits_are_credited_when_the_visitor_becomes_known() -> None:
    hits = [at(-60 * 24 * 31), at(-60 * 24 * 2), at(0), at(5, tok=token("003A")), at(10)]
    result = run(hits)
    credited = sorted(c.hit.at for c in result.credited if c.contact_id == "003A")
    # The hit 31 days before the token is outside the 30-day window: credited to nobody.
    assert credited == [h.at for h in hits[1:]]
    assert result.rejected[Reason.UNKNOWN_VISITOR] == 1
    assert result.links == {"v1": "003A"}


def test_hits_waiting_from_an_earlier_run_are_credited_later() -> None:
    first = run([at(0), at(3)])
    assert first.credited == []
    assert first.waiting_new == 2
    second = run([at(60, tok=token("003A"))], waiting=first.waiting)
    assert {(c.contact_id, c.new) for c in second.credited} == {("003A", False), ("003A", True)}
    assert len(second.credited) == 3
    assert second.waiting == []


def test_waiting_hits_expire_after_the_window() -> None:
    old = PendingHit.of(at(0))
    result = attribute([], [old], {}, (), secret=KEY, now=T0 + WINDOW + timedelta(seconds=1), window=WINDOW)
    assert result.waiting == []
    assert result.expired == 1


def test_a_visitor_seen_with_two_contacts_is_not_merged_further() -> None:
    hits = [at(0, tok=token("003A")), at(5), at(10, tok=token("003B")), at(15), at(20)]
    result = run(hits)
    by_contact = {(c.contact_id, c.hit.at) for c in result.credited}
    assert by_contact == {("003A", hits[0].at), ("003A", hits[1].at), ("003B", hits[2].at)}
    assert result.rejected[Reason.UNKNOWN_VISITOR] == 2  # after the clash: nobody's
    assert result.links == {}
    assert result.shared == {"v1"}
    assert result.newly_shared == ["v1"]


def test_a_known_shared_visitor_stays_unmerged_but_tokens_still_count() -> None:
    result = run([at(0), at(1, tok=token("003C"))], links={"v1": "003A"}, shared={"v1"})
    assert [(c.contact_id, c.hit.at) for c in result.credited] == [("003C", at(1).at)]
    assert result.rejected[Reason.UNKNOWN_VISITOR] == 1


def test_a_cookieless_hit_counts_only_with_a_token() -> None:
    result = run([at(0, visitor=""), at(1, visitor="", tok=token("003A"))])
    assert [c.contact_id for c in result.credited] == ["003A"]
    assert result.rejected[Reason.UNKNOWN_VISITOR] == 1
    assert result.links == {}
