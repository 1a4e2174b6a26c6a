"""Every engagement counts once across the upgrade to the `email_replies` source: a ledger that holds
the old reply event (the original e-mail's `HasReply`) and then reads the reply message itself (a new
event, another id) scores the reply once, also after a backfill that reads it all again."""

from __future__ import annotations

from connector.config import Sources
from connector.config.sync import EventSpec, OrgSource, Recipients
from connector.shell.cycle import backfill_plan, run_backfill

from .conftest import T0, Org
from .test_cycle_e2e import details

# The e-mails source as it was before the upgrade: the reply was the original's HasReply.
OLD_EMAILS = OrgSource(
    name="emails",
    object="EmailMessage",
    recipients=Recipients(),
    watched=("FirstOpenedDate", "FirstLinkClickedDate", "HasReply"),
    events=(
        EventSpec(kind="email.opened", time="FirstOpenedDate", attrs={"message_id": "Id"}),
        EventSpec(kind="email.clicked", time="FirstLinkClickedDate", attrs={"message_id": "Id"}),
        EventSpec(kind="email.replied", time="LastModifiedDate", only_if={"HasReply": True},
                  attrs={"message_id": "Id"}),
    ),
    where="Incoming = false",
)  # fmt: skip


def _replies(org: Org, contact: str) -> list[dict[str, object]]:
    return [dict(e.attrs) for e in org.ledger.events_of([contact])[contact] if e.kind == "email.replied"]


def test_a_reply_counted_by_the_old_source_counts_once_after_the_upgrade_and_a_backfill(org: Org) -> None:
    upgraded = org.settings
    old = [
        OLD_EMAILS if s.name == "emails" else s for s in upgraded.org_sources() if s.name != "email_replies"
    ]
    org.settings = upgraded.model_copy(update={"sources": Sources(salesforce=tuple(old))})
    emu = org.em.org
    contact = org.candidate("Visser")
    messages = []
    for subject in ("Vacature", "Nog een vacature"):  # two e-mails, each replied to: two replies count
        message = emu.create("EmailMessage", {"Subject": subject, "Incoming": False, "IsTracked": True})
        relation = {"EmailMessageId": message, "RelationId": contact, "RelationType": "ToAddress"}
        emu.create("EmailMessageRelation", relation)
        messages.append(message)
    org.cycle()
    for message in messages:
        emu.reply_email(message)
    org.cycle()
    before = details(org, contact)
    assert before[0] == 20  # two replies, 10 points each
    assert [r.keys() for r in _replies(org, contact)] == [{"message_id"}] * 2  # the old events

    org.settings = upgraded  # the upgrade: the reply is now read from the reply message
    org.cycle()  # its first window reads the replies in the lookback, or none of them
    now = emu.advance(120)
    report = run_backfill(
        org.client, org.ledger, org.settings, now, backfill_plan(org.client, org.settings, T0, now)
    )
    assert report.status.succeeded
    replies = _replies(org, contact)
    assert len(replies) == 4  # the ledger holds both events of each reply: old and new
    assert sorted(str(r["message_id"]) for r in replies) == sorted(messages * 2)
    assert details(org, contact) == before  # each reply still counts once
    assert org.cycle().writes == 0
    # A second reply to the same e-mail is the same engagement, as HasReply was: no more points.
    emu.reply_email(messages[0])
    org.cycle()
    assert details(org, contact) == before
