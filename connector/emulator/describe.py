"""describeGlobal, describe and limits in Salesforce's JSON shapes."""

from __future__ import annotations

from typing import Any

from connector.emulator.schema import FieldDef, ObjectDef

_SOAP_TYPES = {
    "id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "double": "xsd:double",
    "date": "xsd:date", "datetime": "xsd:dateTime", "anyType": "xsd:anyType",
}  # fmt: skip


def _urls(obj: ObjectDef, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def _summary(obj: ObjectDef, version: str) -> dict[str, Any]:
    return {
        "name": obj.name,
        "label": obj.label,
        "labelPlural": obj.label + "s",
        "keyPrefix": obj.key_prefix,
        "custom": obj.custom,
        "customSetting": False,
        "activateable": False,
        "deprecatedAndHidden": False,
        "feedEnabled": False,
        "hasSubtypes": False,
        "isSubtype": False,
        "layoutable": obj.createable,
        "mergeable": obj.name in ("Account", "Contact"),
        "mruEnabled": obj.createable,
        "replicateable": True,
        "triggerable": obj.createable,
        "undeletable": obj.createable,
        "queryable": True,
        "retrieveable": True,
        "searchable": not obj.history_of,
        "createable": obj.createable,
        "updateable": obj.createable,
        "deletable": obj.createable,
        "urls": _urls(obj, version),
    }


def describe_basic(obj: ObjectDef, version: str) -> dict[str, Any]:
    """`GET /sobjects/{Obj}`: the object's summary and the records the user viewed lately (none)."""
    return {"objectDescribe": _summary(obj, version), "recentItems": []}


def describe_global(schema: dict[str, ObjectDef], version: str) -> dict[str, Any]:
    """`GET /sobjects/`."""
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [_summary(o, version) for o in sorted(schema.values(), key=lambda o: o.name)],
    }


def _field(f: FieldDef) -> dict[str, Any]:
    system = f.name in ("Id", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp")
    return {
        "name": f.name,
        "label": f.label,
        "type": f.type,
        "soapType": _SOAP_TYPES.get(f.type, "xsd:string"),
        "length": f.length if f.type not in ("double", "boolean", "date", "datetime") else 0,
        "precision": f.precision,
        "scale": f.scale,
        "custom": f.custom,
        "nillable": not f.required and f.type != "boolean" and not system,
        "createable": f.createable,
        "updateable": f.updateable,
        "defaultedOnCreate": system or f.default is not None,
        "calculated": f.name == "Name" and not f.createable,
        "externalId": f.external_id,
        "unique": f.unique,
        "idLookup": f.name == "Id" or f.external_id,
        "filterable": True,
        "sortable": f.type not in ("textarea", "anyType"),
        "restrictedPicklist": f.restricted,
        "picklistValues": [
            {"active": True, "defaultValue": False, "label": v, "value": v, "validFor": None}
            for v in f.picklist
        ],
        "referenceTo": list(f.reference_to),
        "relationshipName": f.relationship_name,
        "cascadeDelete": f.master_detail,
    }


def describe(
    schema: dict[str, ObjectDef], obj: ObjectDef, record_types: dict[str, str], version: str
) -> dict[str, Any]:
    """`GET /sobjects/{Obj}/describe`."""
    children = [
        {
            "childSObject": child.name,
            "field": f.name,
            "relationshipName": None,
            "cascadeDelete": f.master_detail,
        }
        for child in schema.values()
        for f in child.fields.values()
        if obj.name in f.reference_to
    ]
    rt_infos: list[dict[str, Any]] = []
    if obj.record_types:
        rt_infos = [
            {"name": dev.replace("_", " "), "developerName": dev, "recordTypeId": record_types.get(dev),
             "active": True, "available": True, "defaultRecordTypeMapping": i == 0, "master": False}
            for i, dev in enumerate(obj.record_types)
        ]  # fmt: skip
    return {
        **_summary(obj, version),
        "fields": [_field(f) for f in obj.fields.values()],
        "childRelationships": children,
        "recordTypeInfos": rt_infos,
    }


def limits(used: int, total: int) -> dict[str, Any]:
    """`GET /limits`: the daily API requests plus the bulk allowances the connector may check."""
    return {
        "DailyApiRequests": {"Max": total, "Remaining": max(total - used, 0)},
        "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
        "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
        "DailyBulkV2QueryFileStorageMB": {"Max": 1000000, "Remaining": 1000000},
    }
