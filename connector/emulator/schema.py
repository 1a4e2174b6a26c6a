"""The emulated org's schema, built from the connector's default mapping (one source of truth).

Every object and field name the connector maps comes from `ObjectMapping`; the rest (timestamps,
`EmailMessage`, `Event`, history objects) follows the real standard objects. Lookups, picklists,
lengths and external ids are declared here so the store can validate writes the way an org does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connector.config.salesforce import ObjectMapping

STEPS = (
    "Match",
    "Websollicitatie",
    "Intake verwerkt",
    "Voorgesteld",
    "Gesprek klant",
    "Aangenomen",
    "Afgewezen",
    "Teruggetrokken",
)
SYSTEM_FIELDS = ("CreatedDate", "LastModifiedDate", "SystemModstamp")


@dataclass(frozen=True)
class FieldDef:
    """One field as describe reports it, plus what the store needs to validate it."""

    name: str
    label: str
    type: str  # id, string, textarea, email, url, phone, picklist, double, boolean, date, datetime, ...
    length: int = 0
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    required: bool = False
    external_id: bool = False
    unique: bool = False
    createable: bool = True
    updateable: bool = True
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    default: Any = None
    precision: int = 0
    scale: int = 0
    master_detail: bool = False  # deleting the parent deletes this record too; a merge re-parents it

    @property
    def custom(self) -> bool:
        """Whether the field is a custom field (`__c`)."""
        return self.name.endswith("__c")


@dataclass
class ObjectDef:
    """One sObject type: its fields (by API name) and how its ids start."""

    name: str
    label: str
    key_prefix: str
    fields: dict[str, FieldDef] = field(default_factory=dict)
    record_types: tuple[str, ...] = ()
    tracked: tuple[str, ...] = ()  # fields with history tracking
    history_of: str | None = None  # for `...History` objects: the parent object
    createable: bool = True

    def __post_init__(self) -> None:
        self.by_lower = {name.lower(): f for name, f in self.fields.items()}
        self.relationships = {
            f.relationship_name.lower(): f for f in self.fields.values() if f.relationship_name
        }

    @property
    def custom(self) -> bool:
        """Whether this is a custom object."""
        return self.name.endswith("__c")

    @property
    def history_name(self) -> str:
        """The field-history object's name, as Salesforce names it."""
        return self.name[:-3] + "__History" if self.custom else self.name + "History"

    def field(self, name: str) -> FieldDef | None:
        """The field with this API name, case-insensitively (SOQL and REST are case-insensitive)."""
        return self.by_lower.get(name.lower())


def _id() -> FieldDef:
    return FieldDef("Id", "Record ID", "id", 18, createable=False, updateable=False)


def _common(name_field: FieldDef | None = None) -> list[FieldDef]:
    fields = [_id(), FieldDef("IsDeleted", "Deleted", "boolean", createable=False, updateable=False)]
    if name_field is not None:
        fields.append(name_field)
    labels = {"CreatedDate": "Created Date", "LastModifiedDate": "Last Modified Date"}
    for sys_field in SYSTEM_FIELDS:
        label = labels.get(sys_field, "System Modstamp")
        fields.append(FieldDef(sys_field, label, "datetime", createable=False, updateable=False))
    return fields


def _text(name: str, label: str, length: int = 255, **kw: Any) -> FieldDef:
    return FieldDef(name, label, kw.pop("type", "string"), length, **kw)


def _number(name: str, label: str, scale: int = 0) -> FieldDef:
    return FieldDef(name, label, "double", precision=18, scale=scale)


def _ref(name: str, label: str, to: str | tuple[str, ...], rel: str, **kw: Any) -> FieldDef:
    targets = (to,) if isinstance(to, str) else to
    return FieldDef(name, label, "reference", 18, reference_to=targets, relationship_name=rel, **kw)


def _rel(field_name: str) -> str:
    """Relationship name of a lookup: custom `X__c` → `X__r`, standard `XId` → `X`."""
    if field_name.endswith("__c"):
        return field_name[:-3] + "__r"
    return field_name[:-2] if field_name.endswith("Id") else field_name


def _obj(name: str, label: str, prefix: str, fields: list[FieldDef], **kw: Any) -> ObjectDef:
    return ObjectDef(name, label, prefix, {f.name: f for f in fields}, **kw)


ANONYMISED_FIELD = "Anonymised__c"  # MSR's checkbox for a contact anonymised under the GDPR


def build_schema(mapping: ObjectMapping | None = None) -> dict[str, ObjectDef]:
    """All objects of the MSR-shaped org, named after `mapping` (default: the connector's defaults)."""
    m = mapping or ObjectMapping()
    c, j, a = m.contact, m.job, m.application
    sl, wv, jv = m.score_line, m.website_visit, m.job_view
    auto_name = FieldDef("Name", "Name", "string", 80, createable=False, updateable=False)
    objects = [
        _obj("Organization", "Organization", "00D", [
            _id(), _text("Name", "Name", 80), _text("OrganizationType", "Edition", 40),
            FieldDef("IsSandbox", "Is Sandbox", "boolean"), _text("InstanceName", "Instance Name", 5),
            _text("NamespacePrefix", "Namespace Prefix", 15), FieldDef("TrialExpirationDate",
            "Trial Expiration Date", "datetime"), _text("LanguageLocaleKey", "Language", 40),
            _text("TimeZoneSidKey", "Time Zone", 40),
        ], createable=False),
        _obj("User", "User", "005", [
            *_common(FieldDef("Name", "Full Name", "string", 121, createable=False, updateable=False)),
            _text("Username", "Username", 80, required=True), _text("FirstName", "First Name", 40),
            _text("LastName", "Last Name", 80, required=True), _text("Alias", "Alias", 8),
            _text("Email", "Email", 128, type="email"), FieldDef("IsActive", "Active", "boolean"),
            _text("UserType", "User Type", 40), _text("TimeZoneSidKey", "Time Zone", 40),
            _text("LocaleSidKey", "Locale", 40), _text("LanguageLocaleKey", "Language", 40),
        ], createable=False),
        _obj("RecordType", "Record Type", "012", [
            *_common(_text("Name", "Name", 80)), _text("DeveloperName", "Record Type Name", 80),
            _text("SobjectType", "SObject Type Name", 40),
        ], createable=False),
        _obj("Account", "Account", "001", [*_common(_text("Name", "Account Name", 255, required=True))]),
        _obj(c.object, "Contact", "003", [
            *_common(FieldDef("Name", "Full Name", "string", 121, createable=False, updateable=False)),
            _text("FirstName", "First Name", 40), _text("LastName", "Last Name", 80, required=True),
            _text("Email", "Email", 80, type="email"), _text("Phone", "Business Phone", 40, type="phone"),
            _ref("AccountId", "Account ID", "Account", "Account"),
            _ref("RecordTypeId", "Record Type ID", "RecordType", "RecordType"),
            _ref("MasterRecordId", "Master Record ID", c.object, "MasterRecord", createable=False,
                 updateable=False),
            _number(c.score, "Lead Score"),
            FieldDef(c.band, "Lead Score Band", "picklist", 255,
                     picklist=tuple(c.band_values.values()), restricted=True),
            FieldDef(c.medal, "Medal", "picklist", 255,
                     picklist=tuple(c.medal_values.values()), restricted=True),
            FieldDef(c.first_qualified_on, "Date First Qualification", "date"),
            FieldDef(c.first_placed_on, "Date First Placement", "date"),
            FieldDef(c.tracking_consent, "Tracking Consent", "boolean", default=False),
            FieldDef(ANONYMISED_FIELD, "Anonymised", "boolean", default=False),
        ], record_types=(c.candidate_record_type, c.contact_person_record_type),
            tracked=(c.tracking_consent,)),
        _obj(j.object, "Job", "a0B", [
            *_common(_text(j.name, "Job Name", 80, required=True)),
            FieldDef("msf__Status__c", "Status", "picklist", 255, picklist=("Open", "On hold", "Closed")),
            _ref("msf__Account__c", "Account", "Account", "msf__Account__r"),
        ]),
        _obj(a.object, "Job Application", "a0C", [
            *_common(auto_name),
            _ref(a.contact, "Candidate", c.object, _rel(a.contact), required=True),
            _ref(a.job, "Job", j.object, _rel(a.job), required=True),
            FieldDef(a.step, "Step", "picklist", 255, picklist=STEPS, restricted=True, required=True),
        ], tracked=(a.step,)),
        _obj("EmailMessage", "Email Message", "02s", [
            *_common(),
            _text("Subject", "Subject", 3000), _text("FromAddress", "From Address", 1000, type="email"),
            _text("ToAddress", "To Address", 4000), FieldDef("MessageDate", "Message Date", "datetime"),
            FieldDef("Incoming", "Is Incoming", "boolean", default=False),
            FieldDef("IsTracked", "Is Tracked", "boolean", default=False),
            FieldDef("HasReply", "Has Reply", "boolean", default=False),
            FieldDef("FirstOpenedDate", "First Opened", "datetime"),
            FieldDef("LastOpenedDate", "Last Opened", "datetime"),
            FieldDef("FirstLinkClickedDate", "First Link Clicked", "datetime"),
            FieldDef("Status", "Status", "picklist", 40, picklist=("0", "1", "2", "3", "4", "5")),
            _ref("ReplyToEmailMessageId", "Reply To Email Message ID", "EmailMessage", "ReplyToEmailMessage"),
            _ref("RelatedToId", "Related To ID", (j.object, a.object), "RelatedTo"),
        ]),
        _obj("EmailMessageRelation", "Email Message Relation", "0Rm", [
            *_common(),
            _ref("EmailMessageId", "Email Message ID", "EmailMessage", "EmailMessage", required=True),
            _ref("RelationId", "Relation ID", (c.object,), "Relation"),
            FieldDef("RelationType", "Relation Type", "picklist", 40,
                     picklist=("FromAddress", "ToAddress", "CcAddress", "BccAddress"), restricted=True),
            _text("RelationAddress", "Relation Address", 1000),
        ]),
        _obj("Event", "Event", "00U", [
            *_common(),
            _text("Subject", "Subject", 255), _text("Type", "Type", 40),
            FieldDef("StartDateTime", "Start", "datetime"), FieldDef("EndDateTime", "End", "datetime"),
            FieldDef("ActivityDateTime", "Due Date Time", "datetime"),
            _ref("WhoId", "Name ID", (c.object,), "Who"),
            _ref("WhatId", "Related To ID", (j.object, a.object), "What"),
        ]),
        _obj(sl.object, "Lead Score Line", "a0D", [
            *_common(auto_name),
            _ref(sl.contact, "Contact", c.object, _rel(sl.contact), required=True,
                 master_detail=True),
            _text(sl.rule, "Rule", 80), _number(sl.points, "Points"),
            _text(sl.external_id, "External Id", 255, external_id=True, unique=True),
        ]),
        _obj(wv.object, "Website Visit", "a0E", [
            *_common(auto_name),
            _ref(wv.contact, "Contact", c.object, _rel(wv.contact), required=True,
                 master_detail=True),
            FieldDef(wv.visited_at, "Visited At", "datetime"), _number(wv.pages, "Pages"),
            _text(wv.landing_url, "Landing URL", 255, type="url"), _number(wv.duration_seconds, "Duration"),
            _text(wv.external_id, "External Id", 255, external_id=True, unique=True),
        ]),
        _obj(jv.object, "Website Job View", "a0F", [
            *_common(auto_name),
            _ref(jv.contact, "Contact", c.object, _rel(jv.contact), required=True,
                 master_detail=True),
            _ref(jv.job, "Job", j.object, _rel(jv.job), required=True),
            FieldDef(jv.first_viewed, "First Viewed", "datetime"),
            FieldDef(jv.last_viewed, "Last Viewed", "datetime"), _number(jv.view_count, "View Count"),
            _text(jv.external_id, "External Id", 255, external_id=True, unique=True),
        ]),
    ]  # fmt: skip
    schema = {o.name: o for o in objects}
    for obj in list(schema.values()):
        if obj.tracked:
            schema[obj.history_name] = _history(obj)
    return schema


def _history(parent: ObjectDef) -> ObjectDef:
    """A field-history object: `ParentId` for custom objects, `{Object}Id` for standard ones."""
    parent_field = "ParentId" if parent.custom else parent.name + "Id"
    fields = [
        _id(),
        FieldDef("IsDeleted", "Deleted", "boolean", createable=False, updateable=False),
        _ref(parent_field, "Parent ID", parent.name, _rel(parent_field)),
        _text("Field", "Changed Field", 255),
        FieldDef("OldValue", "Old Value", "anyType"),
        FieldDef("NewValue", "New Value", "anyType"),
        FieldDef("CreatedDate", "Created Date", "datetime", createable=False, updateable=False),
    ]
    return _obj(parent.history_name, parent.label + " History", "017", fields, history_of=parent.name,
                createable=False)  # fmt: skip


def history_parent_field(history: ObjectDef) -> str:
    """The lookup field of a history object that points at the changed record."""
    return "ParentId" if history.name.endswith("__History") else str(history.history_of) + "Id"


def resolve_object(schema: dict[str, ObjectDef], name: str) -> ObjectDef | None:
    """The object with this API name, case-insensitively."""
    lowered = name.lower()
    for obj in schema.values():
        if obj.name.lower() == lowered:
            return obj
    return None
