"""What the integration user sees of the org, and the setup metadata it can query.

Field-level security and object permissions: an admin can hide a field or a whole object from the
integration user (`Access.hide`). A hidden object is missing from describeGlobal, its describe is
404 NOT_FOUND and a query naming it is INVALID_TYPE; a hidden field is missing from its object's
describe and a query naming it is INVALID_FIELD ("No such column"), as in a real org.

Field history tracking is answered the real way: `FieldDefinition.IsFieldHistoryTracked`, queried
with `WHERE EntityDefinition.QualifiedApiName = '...'` (and `EntityDefinition` itself), built from
the schema's `tracked` fields as the user sees them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from connector.emulator.query import Tables
from connector.emulator.schema import FieldDef, ObjectDef
from connector.emulator.store import Row, Store

METADATA = ("EntityDefinition", "FieldDefinition")


@dataclass
class Access:
    """The integration user's view: hidden objects (field '') and fields, per object."""

    hidden: set[tuple[str, str]] = field(default_factory=set)

    def hide(self, obj: str, name: str = "") -> None:
        """Hide an object (no `name`) or one field of it from the integration user."""
        self.hidden.add((obj, name))

    def show(self, obj: str, name: str = "") -> None:
        """Undo `hide`."""
        self.hidden.discard((obj, name))

    def schema(self, schema: dict[str, ObjectDef]) -> dict[str, ObjectDef]:
        """The objects and fields the user can see (the full schema when nothing is hidden)."""
        if not self.hidden:
            return schema
        out: dict[str, ObjectDef] = {}
        for name, obj in schema.items():
            if (name, "") in self.hidden:
                continue
            gone = {f for o, f in self.hidden if o == name and f}
            out[name] = (
                replace(obj, fields={k: v for k, v in obj.fields.items() if k not in gone}) if gone else obj
            )
        return out


class UserView:
    """A store as one user's queries see it: the same rows, names resolved against what it may see."""

    def __init__(self, store: Store, schema: dict[str, ObjectDef]) -> None:
        self.store, self.schema = store, schema
        self.rows: dict[str, dict[str, Row]] = store.rows

    def visible(self, obj: str) -> list[Row]:
        """The rows queries see now."""
        return self.store.visible(obj)

    def find(self, record_id: str) -> tuple[str, Row] | None:
        """The object and row of an id."""
        return self.store.find(record_id)


def _text(name: str, label: str) -> FieldDef:
    return FieldDef(name, label, "string", 255, createable=False, updateable=False)


_ENTITY = ObjectDef("EntityDefinition", "Entity Definition", "4ie", {
    "Id": FieldDef("Id", "Entity Definition ID", "id", 18, createable=False, updateable=False),
    "QualifiedApiName": _text("QualifiedApiName", "Qualified API Name"),
    "DurableId": _text("DurableId", "Durable ID"),
    "Label": _text("Label", "Label"),
}, createable=False)  # fmt: skip
_FIELD = ObjectDef("FieldDefinition", "Field Definition", "4if", {
    "Id": FieldDef("Id", "Field Definition ID", "id", 18, createable=False, updateable=False),
    "QualifiedApiName": _text("QualifiedApiName", "Qualified API Name"),
    "DurableId": _text("DurableId", "Durable ID"),
    "Label": _text("Label", "Label"),
    "DataType": _text("DataType", "Data Type"),
    "EntityDefinitionId": FieldDef("EntityDefinitionId", "Entity Definition ID", "reference", 18,
                                   createable=False, updateable=False, reference_to=("EntityDefinition",),
                                   relationship_name="EntityDefinition"),
    "IsFieldHistoryTracked": FieldDef("IsFieldHistoryTracked", "Field History Tracked", "boolean",
                                      createable=False, updateable=False),
}, createable=False)  # fmt: skip


class MetadataView:
    """EntityDefinition and FieldDefinition rows of the objects and fields a user can see."""

    def __init__(self, schema: dict[str, ObjectDef]) -> None:
        self.schema = {**schema, _ENTITY.name: _ENTITY, _FIELD.name: _FIELD}
        entities: dict[str, Row] = {}
        fields: dict[str, Row] = {}
        for obj in schema.values():
            entities[obj.name] = {"Id": obj.name, "QualifiedApiName": obj.name, "DurableId": obj.name,
                                  "Label": obj.label, "IsDeleted": False}  # fmt: skip
            for f in obj.fields.values():
                durable = f"{obj.name}.{f.name}"
                fields[durable] = {
                    "Id": durable, "QualifiedApiName": f.name, "DurableId": durable, "Label": f.label,
                    "DataType": f.type, "EntityDefinitionId": obj.name, "IsDeleted": False,
                    "IsFieldHistoryTracked": f.name in obj.tracked,
                }  # fmt: skip
        self.rows: dict[str, dict[str, Row]] = {_ENTITY.name: entities, _FIELD.name: fields}

    def visible(self, obj: str) -> list[Row]:
        """Every row of a metadata object."""
        return list(self.rows.get(obj, {}).values())

    def find(self, record_id: str) -> tuple[str, Row] | None:
        """Metadata rows are found by their durable id only."""
        for name, rows in self.rows.items():
            if record_id in rows:
                return name, rows[record_id]
        return None


def query_view(store: Store, access: Access, schema: dict[str, ObjectDef], sobject: str) -> Tables:
    """What a query on `sobject` runs against: setup metadata (unless hidden from the user too), or
    the records through the user's view."""
    metadata = {m.lower(): m for m in METADATA}.get(sobject.lower())
    if metadata is not None and (metadata, "") not in access.hidden:
        return MetadataView(access.schema(schema))
    return UserView(store, access.schema(schema))
