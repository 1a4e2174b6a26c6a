"""The emulated org's schema from the files an implementer deploys: `org/` and `org/msr-schema.json`.

`org/` (the package's `connector/sfdx/`) is the SFDX source project: custom fields on standard objects
under `objects/<Object>/fields/`, our own objects with their `.object-meta.xml`. `msr-schema.json`
describes what the org has before that deploy: standard objects and MSR's managed (`msf__`) objects.
A field's describe type follows from its metadata type, as Salesforce derives it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from connector.emulator.schema import FieldDef, ObjectDef, common_fields, relationship_of

ORG_DIR = Path(__file__).resolve().parent.parent / "sfdx"
MSR_SCHEMA = "msr-schema.json"
SOURCE = Path("force-app/main/default/objects")
_NS = "{http://soap.sforce.com/2006/04/metadata}"

# Metadata field type → (describe type, default length when the file names none).
_TYPES: dict[str, tuple[str, int]] = {
    "Text": ("string", 255), "TextArea": ("textarea", 255), "LongTextArea": ("textarea", 32768),
    "Email": ("email", 80), "Phone": ("phone", 40), "Url": ("url", 255), "Number": ("double", 0),
    "Currency": ("currency", 0), "Percent": ("percent", 0), "Checkbox": ("boolean", 0),
    "Date": ("date", 0), "DateTime": ("datetime", 0), "Picklist": ("picklist", 255),
    "Lookup": ("reference", 18), "MasterDetail": ("reference", 18), "AutoNumber": ("string", 30),
}  # fmt: skip


class OrgSourceError(ValueError):
    """A file of org/ the emulator cannot turn into schema: names the file and what is wrong."""


def _text(node: ElementTree.Element, tag: str, default: str = "") -> str:
    found = node.find(_NS + tag)
    return (found.text or "").strip() if found is not None else default


def _flag(node: ElementTree.Element, tag: str) -> bool:
    return _text(node, tag, "false") == "true"


def _parse(path: Path) -> ElementTree.Element:
    try:
        return ElementTree.parse(path).getroot()  # noqa: S314 - our own checked-in files
    except ElementTree.ParseError as exc:
        raise OrgSourceError(f"{path}: not well-formed XML: {exc}") from None


def field_from_xml(path: Path) -> tuple[FieldDef, bool]:
    """One `.field-meta.xml` as the emulator's field, and whether its history is tracked."""
    root = _parse(path)
    name = _text(root, "fullName") or path.name.removesuffix(".field-meta.xml")
    kind = _text(root, "type")
    if kind not in _TYPES:
        raise OrgSourceError(f"{path}: field type {kind!r} is not one the emulator knows")
    describe_type, length = _TYPES[kind]
    values = tuple(_text(v, "fullName") for v in root.iter(_NS + "value"))
    target = _text(root, "referenceTo")
    default_text = _text(root, "defaultValue")
    value_set = root.find(_NS + "valueSet")
    field = FieldDef(
        name=name,
        label=_text(root, "label") or name,
        type=describe_type,
        length=int(_text(root, "length") or length),
        picklist=values,
        restricted=value_set is not None and _flag(value_set, "restricted"),
        required=kind == "MasterDetail" or _flag(root, "required"),
        external_id=_flag(root, "externalId"),
        unique=_flag(root, "unique"),
        reference_to=(target,) if target else (),
        relationship_name=relationship_of(name) if target else None,
        default=(default_text == "true") if kind == "Checkbox" else None,
        precision=int(_text(root, "precision") or 0),
        scale=int(_text(root, "scale") or 0),
        master_detail=kind == "MasterDetail",
    )
    return field, _flag(root, "trackHistory")


def _field_from_json(spec: dict[str, Any]) -> FieldDef:
    spec = dict(spec)
    for key in ("picklist", "reference_to"):
        spec[key] = tuple(spec.get(key, ()))
    if spec["type"] == "reference":
        spec.setdefault("length", 18)
        spec.setdefault("relationship_name", relationship_of(spec["name"]))
    elif spec["type"] == "double":
        spec.setdefault("precision", 18)
    return FieldDef(**spec)


def _object_from_json(spec: dict[str, Any]) -> ObjectDef:
    fields = [_field_from_json(f) for f in spec["fields"]]
    named = {f.name for f in fields}
    system = common_fields() if spec.get("system_fields", True) else common_fields()[:1]
    fields = [f for f in system if f.name not in named] + fields
    return ObjectDef(
        spec["name"], spec["label"], spec["key_prefix"], {f.name: f for f in fields},
        record_types=tuple(spec.get("record_types", ())), tracked=tuple(spec.get("tracked", ())),
        createable=spec.get("createable", True),
    )  # fmt: skip


def _deployed_object(folder: Path, prefix: str | None) -> ObjectDef:
    meta = folder / f"{folder.name}.object-meta.xml"
    root = _parse(meta)
    if prefix is None:
        raise OrgSourceError(f"{meta}: no key prefix for {folder.name} in {MSR_SCHEMA} emulator_key_prefixes")
    name_field = root.find(_NS + "nameField")
    if name_field is None:
        raise OrgSourceError(f"{meta}: no nameField")
    auto = _text(name_field, "type") == "AutoNumber"
    name = FieldDef("Name", _text(name_field, "label") or "Name", "string", 30 if auto else 80,
                    createable=not auto, updateable=not auto, required=not auto)  # fmt: skip
    fields = [*common_fields()[:2], name, *common_fields()[2:]]
    return ObjectDef(folder.name, _text(root, "label") or folder.name, prefix, {f.name: f for f in fields})


def load_objects(org_dir: Path | None = None) -> list[ObjectDef]:
    """Every object of the emulated org: the MSR schema file's, with org/'s objects and fields added."""
    org_dir = org_dir or ORG_DIR
    msr_path = org_dir / MSR_SCHEMA
    try:
        msr = json.loads(msr_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OrgSourceError(f"{msr_path}: cannot read the MSR schema: {exc}") from None
    objects = {spec["name"]: _object_from_json(spec) for spec in msr["objects"]}
    prefixes: dict[str, str] = msr.get("emulator_key_prefixes", {})
    source = org_dir / SOURCE
    if not source.is_dir():
        raise OrgSourceError(f"{source}: no SFDX objects folder")
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        if folder.name not in objects:
            objects[folder.name] = _deployed_object(folder, prefixes.get(folder.name))
        obj = objects[folder.name]
        tracked = list(obj.tracked)
        for path in sorted((folder / "fields").glob("*.field-meta.xml")):
            field, track = field_from_xml(path)
            if field.name in obj.fields:
                raise OrgSourceError(f"{path}: {obj.name}.{field.name} is also in {MSR_SCHEMA}")
            obj.fields[field.name] = field
            tracked += [field.name] if track else []
        objects[folder.name] = ObjectDef(obj.name, obj.label, obj.key_prefix, obj.fields,
                                         record_types=obj.record_types, tracked=tuple(tracked),
                                         createable=obj.createable)  # fmt: skip
    return list(objects.values())
