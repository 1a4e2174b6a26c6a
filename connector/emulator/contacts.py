"""Contact merges and anonymisation as Salesforce does them (the admin API's two contact actions)."""

from __future__ import annotations

from connector.emulator.org import Emulator
from connector.emulator.schema import ANONYMISED_FIELD
from connector.emulator.values import normalise_id


def merge_contacts(emu: Emulator, master_id: str, loser_id: str) -> int:
    """Merge `loser_id` into `master_id`: every record pointing at the loser (master-detail children,
    applications, e-mail relations, events) is re-pointed to the master, which moves its
    SystemModstamp; the loser is deleted with `MasterRecordId` set, then the master is updated (as
    Salesforce fires delete for the loser and update for the winner). Returns the records re-pointed."""
    obj = emu.mapping.contact.object
    with emu.lock:
        store = emu.store
        master, loser = store.get(obj, master_id), store.get(obj, loser_id)
        if master is None or loser is None or master["IsDeleted"] or loser["IsDeleted"]:
            raise KeyError(f"both contacts must exist and be live: {master_id}, {loser_id}")
        moved = 0
        for odef in store.schema.values():
            for f in odef.fields.values():
                # Field history is append-only: its rows keep the record they were written for.
                if f.type != "reference" or obj not in f.reference_to or odef.name.endswith("History"):
                    continue
                if f.name == "MasterRecordId":
                    continue
                for rid, row in list(store.rows[odef.name].items()):
                    if not row["IsDeleted"] and normalise_id(str(row.get(f.name))) == loser["Id"]:
                        store.update(odef.name, rid, {f.name: master["Id"]})
                        moved += 1
        # MasterRecordId is not writable through the API; the merge itself sets it.
        store.insert_raw(obj, {**store.rows[obj][loser["Id"]], "MasterRecordId": master["Id"]})
        store.delete(obj, loser["Id"])  # its children moved already: nothing cascades
        store.update(obj, master["Id"], {})  # a merge ends with an update of the winning record
        return moved


def anonymise_contact(emu: Emulator, contact_id: str) -> None:
    """What an MSR admin's anonymisation does: the anonymised flag set, name, e-mail and phone scrubbed."""
    scrubbed = {ANONYMISED_FIELD: True, "FirstName": None, "LastName": "ANON", "Email": None, "Phone": None}
    emu.update(emu.mapping.contact.object, contact_id, scrubbed)
