"""The emulated org's schema: its types, and `build_schema` from the files an implementer deploys.

The objects and fields come from `org/` (our SFDX project) and `org/msr-schema.json` (standard and
MSR's managed objects), read by `orgsource.py`: the org the emulator plays is the one the implementer
deploys, and the connector's default mapping is tested against the same files. History objects follow
Salesforce's naming. Lookups, picklists, lengths and external ids let the store validate writes the way
an org does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def common_fields() -> list[FieldDef]:
    """The fields every object has: Id, IsDeleted and the three timestamps."""
    return _common()


def relationship_of(field_name: str) -> str:
    """Relationship name of a lookup: custom `X__c` → `X__r`, standard `XId` → `X`."""
    return _rel(field_name)


def _ref(name: str, label: str, to: str, rel: str) -> FieldDef:
    return FieldDef(name, label, "reference", 18, reference_to=(to,), relationship_name=rel)


def _rel(field_name: str) -> str:
    if field_name.endswith("__c"):
        return field_name[:-3] + "__r"
    return field_name[:-2] if field_name.endswith("Id") else field_name


ANONYMISED_FIELD = "Anonymised__c"  # MSR's checkbox for a contact anonymised under the GDPR


def build_schema(org_dir: Path | None = None) -> dict[str, ObjectDef]:
    """All objects of the MSR-shaped org, from `org/` and its `msr-schema.json` (default: the packaged)."""
    from connector.emulator.orgsource import load_objects  # orgsource builds on this module's types

    schema = {o.name: o for o in load_objects(org_dir)}
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
        FieldDef("Field", "Changed Field", "string", 255),
        FieldDef("OldValue", "Old Value", "anyType"),
        FieldDef("NewValue", "New Value", "anyType"),
        FieldDef("CreatedDate", "Created Date", "datetime", createable=False, updateable=False),
    ]
    return ObjectDef(parent.history_name, parent.label + " History", "017", {f.name: f for f in fields},
                     history_of=parent.name, createable=False)  # fmt: skip


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
