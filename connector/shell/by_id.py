"""Reads of org records by id: the one chunking of id lists for SOQL, and a contact's child records."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from simple_salesforce.format import format_soql

from connector.details import RecordWrite
from connector.sf.port import OrgPort

IN_CHUNK = 200  # ids per IN (...) list: keeps GET URLs far below Salesforce's ~16 KB


def in_lists(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    """`ids` in lists short enough for a SOQL `IN (...)` in a GET URL."""
    for start in range(0, len(ids), IN_CHUNK):
        yield ids[start : start + IN_CHUNK]


def records_of_contacts(
    client: OrgPort, objects: Sequence[tuple[str, str]], contacts: Sequence[str]
) -> list[RecordWrite]:
    """The records of `objects` ((object, contact field) pairs) the org holds for these contacts, as
    deletes by Id whose parent is the contact as asked for."""
    found: list[RecordWrite] = []
    for obj, field in objects:
        for chunk in in_lists(contacts):
            soql = format_soql(
                "SELECT Id, {:literal} FROM {:literal} WHERE {:literal} IN {}", field, obj, field, list(chunk)
            )
            for page in client.query_pages(soql, include_deleted=False):
                found += [RecordWrite(obj, "Id", str(r["Id"]), parent=_asked(r[field], chunk)) for r in page]
    return found


def _asked(value: object, asked: Sequence[str]) -> str:
    # The org may answer with the 18-character form of an id asked for in 15, or the other way round.
    text = str(value)
    return next((c for c in asked if c[:15] == text[:15]), text)


def records_with_keys(
    client: OrgPort, objects: Sequence[tuple[str, str]], keys: Mapping[str, Sequence[str]]
) -> list[RecordWrite]:
    """The records of `objects` ((object, external id field) pairs) whose external id is one of
    `keys` (contact -> external ids), as deletes by Id whose parent is that contact."""
    owner = {key: contact for contact, mine in keys.items() for key in mine}
    found: list[RecordWrite] = []
    for obj, field in objects:
        for chunk in in_lists(sorted(owner)):
            soql = format_soql(
                "SELECT Id, {:literal} FROM {:literal} WHERE {:literal} IN {}", field, obj, field, list(chunk)
            )
            for page in client.query_pages(soql, include_deleted=False):
                found += [RecordWrite(obj, "Id", str(r["Id"]), parent=owner[str(r[field])]) for r in page]
    return found
