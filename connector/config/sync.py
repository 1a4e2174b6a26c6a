"""`[sync]` (schedule and safety rails) and `[[sources.salesforce]]` (how org records become events).

Each source reads one object in time windows; each of its `events` entries turns a record into an event
when the record's `time` field has a value and its `only_if` conditions hold. The defaults read MSR's
job applications, e-mail engagement, appointments and the contacts themselves.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from connector.config.names import ApiName, Condition, OptionalApiName
from connector.config.salesforce import ObjectMapping
from connector.config.scoring import Strict, WhereValue


class EventSpec(Strict):
    """How one record becomes one event."""

    kind: Annotated[str, Field(min_length=1)]
    time: ApiName  # field path holding the event time; a record without a value gives no event
    only_if: dict[ApiName, WhereValue] = Field(default_factory=dict)  # field path -> required value(s)
    attrs: dict[str, ApiName] = Field(default_factory=dict)  # event attribute -> field path


class Recipients(Strict):
    """Where a record's contacts live when they are not a field of it (e-mail → its relations)."""

    object: ApiName = "EmailMessageRelation"
    parent: ApiName = "EmailMessageId"
    contact: ApiName = "RelationId"
    where: Condition = "RelationType IN ('ToAddress', 'CcAddress', 'BccAddress')"


class History(Strict):
    """Read the field-history object for `field`, so every transition A→B→C becomes an event."""

    field: ApiName
    # default: the org's naming ({Obj}History, or {Name}__History for custom objects)
    object: OptionalApiName = ""
    kind: str = "application.step"
    attr: str = "step"


class OrgSource(Strict):
    """One object polled from the org."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[a-z0-9_]+$")]
    object: ApiName
    contact: OptionalApiName = ""  # field path to the contact id; empty when `recipients` says where they are
    recipients: Recipients | None = None
    watched: tuple[ApiName, ...]
    events: tuple[EventSpec, ...] = ()
    history: History | None = None
    where: Condition = ""  # extra SOQL condition
    # Datetime fields whose own value in the window also selects a record, besides SystemModstamp:
    # for changes an org may make without moving SystemModstamp (e-mail tracking).
    window_fields: tuple[str, ...] = ()

    @field_validator("watched")
    @classmethod
    def _some_watched(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name at least one field to watch for changes")
        return value


class SyncSettings(Strict):
    """`[sync]`: the daemon's schedule and safety rails."""

    poll_interval_seconds: Annotated[int, Field(ge=10)] = 120
    # Local time (scoring.timezone) of the daily pass that lands expiry and inactivity penalties.
    daily_pass_at: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "02:00"  # noqa: S105
    max_change_share: Annotated[float, Field(gt=0, le=1)] = 0.20
    # The share rail only applies once a cycle changes more than this many contacts: in a small org one
    # candidate moving a step is already "20 %", and that is no sign of a wrong rule.
    max_change_min_contacts: Annotated[int, Field(ge=0)] = 50
    health_host: str = "127.0.0.1"
    health_port: Annotated[int, Field(ge=0, le=65535)] = 9464  # 0 switches the endpoint off
    # `/livez` fails once one cycle has run this long (a hung call, a lock never released): a restart
    # is the cure. Generous: a nightly pass over a million contacts takes minutes, not an hour.
    hung_after_seconds: Annotated[int, Field(ge=60)] = 3600
    # a Contact checkbox meaning "erase this contact" (besides deletion)
    anonymised_field: OptionalApiName = ""
    # Read the field history of the application step, so A→B→C within one poll interval gives both
    # B and C (polling the record alone sees only C). "auto": when the org tracks history on that
    # field (asked at the start of every job); true / false force it.
    step_history: bool | Literal["auto"] = "auto"


def default_sources(m: ObjectMapping, *, step_history: bool = False) -> tuple[OrgSource, ...]:
    """MSR's sources, with the object and field names of the mapping."""
    app, c = m.application, m.contact
    history = History(field=app.step) if step_history else None
    return (
        OrgSource(
            name="contacts",
            object=c.object,
            contact="Id",
            watched=(c.record_type, c.tracking_consent, c.medal, c.first_qualified_on, c.first_placed_on),
        ),
        OrgSource(
            name="applications",
            object=app.object,
            contact=app.contact,
            watched=(app.step,),
            history=history,
            events=(
                EventSpec(
                    kind="application.step",
                    time="SystemModstamp",
                    attrs={"step": app.step, "job_id": app.job, "application_id": "Id"},
                ),
            ),
        ),
        # Whether Salesforce's tracking updates move SystemModstamp is not documented: the e-mails
        # source also windows on the tracking dates themselves, and a reply is read from the reply
        # message (a new record, so its SystemModstamp moves) rather than from HasReply.
        OrgSource(
            name="emails",
            object="EmailMessage",
            recipients=Recipients(),
            watched=("FirstOpenedDate", "FirstLinkClickedDate"),
            events=(
                EventSpec(kind="email.opened", time="FirstOpenedDate", attrs={"message_id": "Id"}),
                EventSpec(kind="email.clicked", time="FirstLinkClickedDate", attrs={"message_id": "Id"}),
            ),
            where="Incoming = false",
            window_fields=("FirstOpenedDate", "LastOpenedDate", "FirstLinkClickedDate"),
        ),
        OrgSource(
            name="email_replies",
            object="EmailMessage",
            recipients=Recipients(where="RelationType = 'FromAddress'"),
            watched=("ReplyToEmailMessageId",),
            events=(
                EventSpec(
                    kind="email.replied",
                    time="CreatedDate",
                    attrs={"message_id": "ReplyToEmailMessageId", "reply_id": "Id"},
                ),
            ),
            where="Incoming = true AND ReplyToEmailMessageId != null",
        ),
        OrgSource(
            name="appointments",
            object="Event",
            contact="WhoId",
            watched=("WhoId", "StartDateTime"),
            events=(EventSpec(kind="appointment.made", time="CreatedDate", attrs={"event_id": "Id"}),),
        ),
    )
