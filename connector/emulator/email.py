"""E-mail activity as an org records it: opens and clicks set the tracking dates, a reply is an
incoming message from the contact (its `FromAddress` relation) pointing at the original, which gets
`HasReply`. `stamp = False` leaves the original's SystemModstamp alone (Salesforce does not document
whether tracking updates move it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connector.emulator.store import Row, Store


def _message(store: Store, message_id: str) -> Row:
    row = store.get("EmailMessage", message_id)
    if row is None:
        raise KeyError(message_id)
    return row


def open_message(store: Store, message_id: str, now: datetime, *, clicked: bool, stamp: bool) -> None:
    """The recipient opens the message (and optionally clicks a link in it) at `now`."""
    row = _message(store, message_id)
    changes: dict[str, Any] = {"LastOpenedDate": now.isoformat()}
    if row["FirstOpenedDate"] is None:
        changes["FirstOpenedDate"] = now.isoformat()
    if clicked and row["FirstLinkClickedDate"] is None:
        changes["FirstLinkClickedDate"] = now.isoformat()
    store.update("EmailMessage", message_id, changes, stamp=stamp)


def reply_to(store: Store, message_id: str, now: datetime, *, stamp: bool) -> str:
    """The recipient replies at `now`; returns the reply's id."""
    row = _message(store, message_id)
    relations = [
        r for r in store.rows["EmailMessageRelation"].values()
        if r["EmailMessageId"] == row["Id"] and r["RelationType"] == "ToAddress" and not r["IsDeleted"]
    ]  # fmt: skip
    reply = store.create("EmailMessage", {
        "Subject": f"RE: {row.get('Subject') or ''}"[:3000], "Incoming": True, "MessageDate": now.isoformat(),
        "ReplyToEmailMessageId": row["Id"], "Status": "0",
    })  # fmt: skip
    for relation in relations[:1]:
        store.create("EmailMessageRelation", {
            "EmailMessageId": reply, "RelationId": relation["RelationId"], "RelationType": "FromAddress",
        })  # fmt: skip
    store.update("EmailMessage", row["Id"], {"HasReply": True}, stamp=stamp)
    return reply
