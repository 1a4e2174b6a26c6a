"""Offline validation of the SFDX project `org/`: what a deploy would refuse, found before one.

Each file must be well-formed XML in the Metadata API namespace, its root the type its suffix names,
every element one the Metadata API knows at that place, once unless it is a list, and every element
the type requires present (the types of the pinned jsforce, exported to `metadata-types.json`); values of
boolean and number elements must parse. Every object and field that a
permission set, list view, layout, report type or report names must exist in `org/` or in
`msr-schema.json` (the schema the emulator builds from both), and a permission set may not grant
field access on a required or master-detail field (Salesforce refuses that deploy). Problems come back
as one line each, naming the file and the element.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from connector.emulator.orgsource import SOURCE
from connector.emulator.schema import ObjectDef, build_schema

TYPES_FILE = Path(__file__).with_name("metadata-types.json")
NS = "http://soap.sforce.com/2006/04/metadata"
SUFFIXES = {
    ".object-meta.xml": "CustomObject", ".field-meta.xml": "CustomField",
    ".permissionset-meta.xml": "PermissionSet", ".listView-meta.xml": "ListView",
    ".layout-meta.xml": "Layout", ".reportType-meta.xml": "ReportType", ".report-meta.xml": "Report",
    ".reportFolder-meta.xml": "ReportFolder",
}  # fmt: skip
PRIMITIVES = {"string", "boolean", "number", "any"}


@dataclass(frozen=True)
class Problem:
    """One thing a deploy would refuse: the file, the element (a path of tags) and why."""

    file: str
    element: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: <{self.element}>: {self.reason}"


def _types() -> dict[str, Any]:
    return dict(json.loads(TYPES_FILE.read_text(encoding="utf-8"))["types"])


def _props(types: dict[str, Any], name: str) -> dict[str, Any]:
    props: dict[str, Any] = {}
    while name:
        spec = types[name]
        props = {**spec["props"], **props}
        name = spec["extends"] or ""
    return props


def _local(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _check_tree(
    types: dict[str, Any], node: ElementTree.Element, type_name: str, where: str, rel: str
) -> list[Problem]:
    props = _props(types, type_name)
    problems: list[Problem] = []
    seen: set[str] = set()
    for child in node:
        ns, tag = _local(child.tag)
        path = f"{where}/{tag}"
        if ns != NS:
            problems.append(Problem(rel, path, f"not in the Metadata API namespace {NS}"))
            continue
        if tag not in props:
            near = [p for p in props if p.casefold() == tag.casefold()]
            hint = f" (did you mean <{near[0]}>?)" if near else ""
            problems.append(Problem(rel, path, f"{type_name} has no element <{tag}>{hint}"))
            continue
        spec = props[tag]
        many = isinstance(spec, list)
        kind = str(spec[0] if many else spec).lstrip("?")
        if not many and tag in seen:
            problems.append(Problem(rel, path, f"{type_name} allows one <{tag}>"))
        seen.add(tag)
        if kind in PRIMITIVES or kind not in types:
            problems += _check_value(child, kind, path, rel)
        else:
            problems += _check_tree(types, child, kind, path, rel)
    missing = [tag for tag, spec in props.items() if _required(spec) and tag not in seen]
    problems += [Problem(rel, f"{where}/{tag}", f"{type_name} needs <{tag}>") for tag in missing]
    return problems


def _required(spec: Any) -> bool:
    """A property the Metadata API's WSDL requires (no `?`, not a list), `fullName` aside (the file name)."""
    return isinstance(spec, str) and not spec.startswith("?")


def _check_value(node: ElementTree.Element, kind: str, path: str, rel: str) -> list[Problem]:
    if len(node):
        return [Problem(rel, path, f"a {kind} value holds no elements")]
    text = (node.text or "").strip()
    if kind == "boolean" and text not in ("true", "false"):
        return [Problem(rel, path, f"{text!r} is not true or false")]
    if kind == "number":
        try:
            float(text)
        except ValueError:
            return [Problem(rel, path, f"{text!r} is not a number")]
    return []


def _metadata_type(path: Path) -> str | None:
    return next((t for suffix, t in SUFFIXES.items() if path.name.endswith(suffix)), None)


def check_project(org_dir: Path) -> list[Problem]:
    """Every problem of the project at `org_dir`, one per element; empty when a deploy would accept it."""
    types = _types()
    problems: list[Problem] = []
    parsed: dict[Path, ElementTree.Element] = {}
    for path in sorted((org_dir / "force-app").rglob("*")):
        if not path.is_file():
            continue
        rel = str(path.relative_to(org_dir))
        kind = _metadata_type(path)
        if kind is None:
            problems.append(Problem(rel, "-", "not a metadata file this project uses"))
            continue
        try:
            root = ElementTree.parse(path).getroot()  # noqa: S314 - our own files
        except ElementTree.ParseError as exc:
            line, column = exc.position
            text = path.read_text(encoding="utf-8", errors="replace").splitlines()[line - 1 : line]
            why = str(exc).split(":")[0]
            problems.append(
                Problem(
                    rel,
                    f"line {line}, column {column}",
                    f"not well-formed XML ({why}): {''.join(text).strip()}",
                )
            )
            continue
        ns, tag = _local(root.tag)
        if (ns, tag) != (NS, kind):
            problems.append(Problem(rel, tag, f'the root must be <{kind} xmlns="{NS}">'))
            continue
        problems += _check_tree(types, root, kind, kind, rel)
        parsed[path] = root
    if problems:
        return problems  # the references are read from valid files only
    try:
        schema = build_schema(org_dir)
    except ValueError as exc:
        return [Problem("msr-schema.json", "-", str(exc))]
    return _check_references(org_dir, parsed, schema)


def _texts(root: ElementTree.Element, path: str) -> list[ElementTree.Element]:
    return root.findall(path.replace("/", f"/{{{NS}}}").join([f"{{{NS}}}", ""]))


class _Refs:
    """Name resolution against the one schema, with child relationships read from the field files."""

    def __init__(self, org_dir: Path, schema: dict[str, ObjectDef]) -> None:
        self.schema = schema
        self.children: dict[tuple[str, str], str] = {}
        for path in (org_dir / SOURCE).glob("*/fields/*.field-meta.xml"):
            root = ElementTree.parse(path).getroot()  # noqa: S314
            target = _value(root, "referenceTo")
            rel = _value(root, "relationshipName")
            if target and rel:
                self.children[(target, rel + "__r")] = path.parent.parent.name

    def field(self, obj: str, name: str) -> str | None:
        """Why `obj.name` does not resolve, or None when it does."""
        odef = self.schema.get(obj)
        if odef is None:
            return f"object {obj} is neither in org/ nor in msr-schema.json"
        if odef.field(name) is None:
            return f"field {obj}.{name} is neither in org/ nor in msr-schema.json"
        return None

    def table(self, table: str) -> str | None:
        """The object a report-type table (`Contact.Lead_Score_Lines__r`) stands for."""
        obj, *hops = table.split(".")
        for hop in hops:
            obj = self.children.get((obj, hop), "")
        return obj if obj in self.schema else None


def _value(root: ElementTree.Element, tag: str) -> str:
    found = root.find(f"{{{NS}}}{tag}")
    return (found.text or "").strip() if found is not None else ""


def _check_references(
    org_dir: Path, parsed: dict[Path, ElementTree.Element], schema: dict[str, ObjectDef]
) -> list[Problem]:
    refs = _Refs(org_dir, schema)
    problems: list[Problem] = []
    report_types = {
        p.name.removesuffix(".reportType-meta.xml") + "__c": r
        for p, r in parsed.items()
        if p.name.endswith(".reportType-meta.xml")
    }
    for path, root in parsed.items():
        rel = str(path.relative_to(org_dir))
        kind = _metadata_type(path)
        found: list[tuple[str, str | None]] = []
        if kind == "PermissionSet":
            found = _permission_set(root, refs)
        elif kind == "ListView":
            obj = path.parent.parent.name
            names = [("ListView/columns", c.text or "") for c in _texts(root, "columns")]
            names += [("ListView/filters/field", f.text or "") for f in _texts(root, "filters/field")]
            found = [(el, refs.field(obj, n)) for el, n in names if n.endswith("__c")]
            found += _record_type_filters(root, obj, refs)
        elif kind == "Layout":
            obj = path.name.split("-", 1)[0]
            found = [
                (f"Layout/.../field {f.text}", refs.field(obj, f.text or ""))
                for f in root.iter(f"{{{NS}}}field")
            ]
        elif kind == "ReportType":
            found = _report_type(root, refs)
        elif kind == "Report":
            found = _report(root, refs, report_types)
        problems += [Problem(rel, el, why) for el, why in found if why]
    return problems


def _record_type_filters(root: ElementTree.Element, obj: str, refs: _Refs) -> list[tuple[str, str | None]]:
    """A filter on `CONTACT.RECORDTYPE` names `Contact.<DeveloperName>` of a record type the org has."""
    found: list[tuple[str, str | None]] = []
    for node in _texts(root, "filters"):
        if _value(node, "field") == f"{obj.upper()}.RECORDTYPE":
            value = _value(node, "value")
            known = {f"{obj}.{name}" for name in refs.schema[obj].record_types}
            why = (
                None if value in known else f"{value} is no record type of {obj} ({', '.join(sorted(known))})"
            )
            found.append((f"ListView/filters/value {value}", why))
    return found


def _permission_set(root: ElementTree.Element, refs: _Refs) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    for node in _texts(root, "objectPermissions/object"):
        name = node.text or ""
        why = None if name in refs.schema else f"object {name} is neither in org/ nor in msr-schema.json"
        found.append((f"PermissionSet/objectPermissions/object {name}", why))
    for node in _texts(root, "fieldPermissions/field"):
        obj, _, name = (node.text or "").partition(".")
        why = refs.field(obj, name)
        fdef = refs.schema[obj].field(name) if why is None else None
        if fdef is not None and fdef.required:
            why = f"{obj}.{name} is required: Salesforce grants it to all and refuses field permissions on it"
        found.append((f"PermissionSet/fieldPermissions/field {node.text}", why))
    return found


def _report_type(root: ElementTree.Element, refs: _Refs) -> list[tuple[str, str | None]]:
    base = _value(root, "baseObject")
    found: list[tuple[str, str | None]] = [
        ("ReportType/baseObject", None if base in refs.schema else f"object {base} not found")
    ]
    for rel_node in root.iter(f"{{{NS}}}relationship"):
        ok = refs.table(f"{base}.{rel_node.text}") is not None
        found.append(("ReportType/join/relationship", None if ok else f"{base} has no child {rel_node.text}"))
    for column in _texts(root, "sections/columns"):
        table, name = _value(column, "table"), _value(column, "field")
        obj = refs.table(table)
        why = refs.field(obj, name) if obj else f"table {table} is not {base} or a child of it"
        found.append((f"ReportType/sections/columns {table}.{name}", why))
    return found


def _report(
    root: ElementTree.Element, refs: _Refs, report_types: dict[str, ElementTree.Element]
) -> list[tuple[str, str | None]]:
    kind = _value(root, "reportType")
    rtype = report_types.get(kind)
    if rtype is None:
        return [("Report/reportType", f"report type {kind} is not in org/")]
    offered = {f"{_value(c, 'table')}${_value(c, 'field')}" for c in _texts(rtype, "sections/columns")}
    names = [*root.iter(f"{{{NS}}}field"), *root.iter(f"{{{NS}}}column"), *root.iter(f"{{{NS}}}dateColumn")]
    return [
        (
            f"Report/.../{_local(n.tag)[1]} {n.text}",
            None if n.text in offered else f"{n.text} is no column of {kind}",
        )
        for n in names
    ]
