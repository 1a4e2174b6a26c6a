"""E-mail engagement without relying on undocumented behaviour: with the emulator's tracking updates
leaving `EmailMessage.SystemModstamp` alone, an open, a click and a reply are each scored within one
poll (the e-mails source windows on the tracking dates; a reply is read from the reply message)."""

from __future__ import annotations

from .conftest import Org


def _lines(org: Org, contact: str) -> dict[str, float]:
    return {
        str(r["Rule__c"]): float(r["Points__c"])
        for r in org.em.org.records("Lead_Score_Line__c")
        if r["Contact__c"] == contact and r["Points__c"]
    }


def test_open_click_and_reply_are_each_scored_within_one_poll(org: Org) -> None:
    emu = org.em.org
    emu.set_tracking_moves_modstamp(False)
    contact = org.candidate("Visser")
    message = emu.create("EmailMessage", {"Subject": "Vacature", "Incoming": False, "IsTracked": True})
    emu.create(
        "EmailMessageRelation",
        {"EmailMessageId": message, "RelationId": contact, "RelationType": "ToAddress"},
    )
    org.cycle()
    # A day later: the sent message is far behind every window's lookback.
    org.cycle(after_seconds=86_400)
    sent_stamp = emu.record("EmailMessage", message)["SystemModstamp"]  # type: ignore[index]
    assert _lines(org, contact) == {}

    emu.open_email(message)
    assert org.cycle().status.succeeded
    assert _lines(org, contact) == {"email_opened": 2}

    emu.open_email(message, clicked=True)
    org.cycle()
    assert _lines(org, contact) == {"email_opened": 2, "email_clicked": 5}

    emu.reply_email(message)
    org.cycle()
    assert _lines(org, contact) == {"email_opened": 2, "email_clicked": 5, "email_replied": 10}
    assert org.contact(contact)["Lead_Score__c"] == 17
    # The setting held: none of the tracking updates moved the sent message's SystemModstamp.
    after = emu.record("EmailMessage", message)
    assert after is not None
    assert after["SystemModstamp"] == sent_stamp
    assert (after["HasReply"], after["FirstLinkClickedDate"] is not None) == (True, True)
    org.cycle()
    assert _lines(org, contact)["email_replied"] == 10  # read again in the lookback: counted once
