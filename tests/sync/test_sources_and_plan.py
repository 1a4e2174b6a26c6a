"""Pure sync pieces: org records become events once; the plan writes only what differs."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from connector.config import ObjectMapping, Settings
from connector.details import (
    Band,
    ContactKind,
    ErasureReason,
    LineFacts,
    Medal,
    RecruitmentDetails,
    ShownDetails,
    StoredState,
)
from connector.sync.plan import contact_writes, plan_contact
from connector.sync.sources import activity_events, contact_batch

SOURCES = {s.name: s for s in Settings().org_sources()}
M = ObjectMapping()
T = "2026-11-26T13:28:07.000+0000"


def application(step: str, modstamp: str = T, rid: str = "a0C000000000001AAA") -> dict[str, object]:
    return {"Id": rid, "SystemModstamp": modstamp, "IsDeleted": False, "msf__Step__c": step,
            "msf__Candidate__c": "003000000000001AAA", "msf__Job__c": "a0B000000000001AAA"}  # fmt: skip


def test_application_record_becomes_one_step_event_with_stable_id() -> None:
    first = activity_events(SOURCES["applications"], [application("Intake verwerkt")])
    again = activity_events(SOURCES["applications"], [application("Intake verwerkt")])
    (event,) = first.events
    assert event.kind == "application.step"
    assert dict(event.attrs) == {"step": "Intake verwerkt", "job_id": "a0B000000000001AAA",
                                 "application_id": "a0C000000000001AAA"}  # fmt: skip
    assert [e.id for e in again.events] == [event.id]


def test_email_opens_and_clicks_per_recipient_contact_and_oddities_counted() -> None:
    message = {"Id": "02s1", "SystemModstamp": T, "FirstOpenedDate": T, "FirstLinkClickedDate": None,
               "HasReply": True, "LastModifiedDate": T}  # fmt: skip
    batch = activity_events(SOURCES["emails"], [message, dict(message, Id="02s2")],
                            {"02s1": ["003A", "00QLEAD"]})  # fmt: skip
    # HasReply on the sent message is not read: a reply is its own (incoming) message.
    assert sorted(e.kind for e in batch.events) == ["email.opened"]
    assert {e.contact_id for e in batch.events} == {"003A"}
    assert batch.oddities["no_contact"] == 1


def test_a_reply_message_is_a_reply_event_for_its_sender_naming_the_original() -> None:
    reply = {"Id": "02sR", "SystemModstamp": T, "CreatedDate": T, "ReplyToEmailMessageId": "02s1",
             "Incoming": True}  # fmt: skip
    (event,) = activity_events(SOURCES["email_replies"], [reply], {"02sR": ["003A"]}).events
    assert (event.kind, event.contact_id, event.attrs["message_id"]) == ("email.replied", "003A", "02s1")


def test_contact_record_gives_profile_event_org_details_and_erasure() -> None:
    person = {"Id": "003P", "SystemModstamp": T, "RecordType": {"DeveloperName": "Contact_Person"},
              "Tracking_Consent__c": True, "Medal__c": None, "Lead_Score__c": None}  # fmt: skip
    candidate = {"Id": "003C", "SystemModstamp": T, "RecordType": {"DeveloperName": "Candidate"},
                 "Medal__c": "Gold", "Lead_Score__c": 40.0, "Lead_Score_Band__c": "Purple",
                 "Date_First_Placement__c": "2026-01-05"}  # fmt: skip
    deleted = {"Id": "003D", "IsDeleted": True, "SystemModstamp": T}
    batch = contact_batch([person, candidate, deleted], M.contact, profile_changed={"003P"})
    (event,) = batch.events
    assert (event.contact_id, dict(event.attrs)) == (
        "003P",
        {"kind": "contact_person", "tracking_consent": True},
    )
    rows = {r.contact_id: r.details for r in batch.shown}
    assert (rows["003C"].medal, rows["003C"].score, rows["003C"].first_placed_on) == (
        Medal.GOLD,
        40,
        date(2026, 1, 5),
    )
    assert rows["003C"].band is None
    assert batch.oddities["unknown_band_value"] == 1
    assert batch.erased == {"003D": ErasureReason.DELETED}


def test_a_contact_deleted_by_a_merge_is_a_merge_into_its_master_not_an_erasure() -> None:
    loser = {"Id": "003L", "IsDeleted": True, "SystemModstamp": T, "MasterRecordId": "003M"}
    deleted = {"Id": "003D", "IsDeleted": True, "SystemModstamp": T, "MasterRecordId": None}
    batch = contact_batch([loser, deleted], M.contact, profile_changed={"003L", "003D"})
    assert (batch.merged, batch.erased) == ({"003L": "003M"}, {"003D": ErasureReason.DELETED})
    assert (batch.events, batch.shown) == ([], [])


def test_an_org_record_s_event_id_names_no_contact_so_a_moved_record_keeps_it() -> None:
    message = {"Id": "02s1", "SystemModstamp": T, "FirstOpenedDate": T, "LastModifiedDate": T}
    first = activity_events(SOURCES["emails"], [message], {"02s1": ["003A", "003B"]}).events
    moved = activity_events(SOURCES["emails"], [message], {"02s1": ["003B"]}).events
    assert [e.contact_id for e in first] == ["003A", "003B"]  # one row per recipient in the ledger
    assert {e.id for e in first} == {e.id for e in moved}


JUNE_2 = date(2026, 6, 2)
DETAILS = RecruitmentDetails(30, Band.LUKEWARM, Medal.BRONZE, JUNE_2)
INTAKE = LineFacts(30, 1, JUNE_2, date(2026, 8, 31))
BASE = StoredState("003A", ContactKind.CANDIDATE, DETAILS, JUNE_2, {"intake": INTAKE})


def state(**kw: object) -> StoredState:
    return replace(BASE, details=replace(DETAILS, **kw))  # type: ignore[arg-type]


def test_first_write_sends_details_and_lines() -> None:
    plan = plan_contact(state(), None)
    assert plan.values == {"score": 30, "band": Band.LUKEWARM, "medal": Medal.BRONZE,
                           "first_qualified_on": JUNE_2}  # fmt: skip
    writes = contact_writes([plan], M)
    assert [(w.object, w.key_field, w.key_value) for w in writes] == [
        ("Contact", "Id", "003A"), ("Lead_Score_Line__c", "External_Id__c", "003A:intake")]  # fmt: skip
    assert writes[0].values == {"Lead_Score__c": 30, "Lead_Score_Band__c": "Lukewarm", "Medal__c": "Bronze",
                                "Date_First_Qualification__c": JUNE_2}  # fmt: skip


def test_nothing_to_write_when_org_shows_the_same() -> None:
    plan = plan_contact(state(), ShownDetails("003A", DETAILS, {"intake": INTAKE}))
    assert (plan.values, plan.lines) == ({}, {})
    assert contact_writes([plan], M) == []


def test_a_cleared_field_is_written_as_none() -> None:
    shown = ShownDetails("003A", replace(DETAILS, first_placed_on=date(2026, 6, 9)), {"intake": INTAKE})
    assert plan_contact(state(), shown).values == {"first_placed_on": None}
    (write,) = contact_writes([plan_contact(state(), shown)], M)
    assert write.values == {"Date_First_Placement__c": None}


def test_changed_score_writes_only_score_and_dropped_rule_goes_to_zero() -> None:
    shown = ShownDetails("003A", replace(DETAILS, score=35), {"intake": INTAKE, "open": LineFacts(5, 1)})
    plan = plan_contact(state(), shown)
    assert plan.values == {"score": 30}
    assert plan.lines == {"open": LineFacts(0)}


def test_anonymised_contact_is_erased_like_a_deleted_one() -> None:
    anonymised = {
        "Id": "003X",
        "SystemModstamp": T,
        "Anonymised__c": True,
        "RecordType": {"DeveloperName": "Candidate"},
    }
    kept = dict(anonymised, Id="003Y", Anonymised__c=False)
    batch = contact_batch(
        [anonymised, kept], M.contact, profile_changed={"003X", "003Y"}, anonymised_field="Anonymised__c"
    )
    assert batch.erased == {"003X": ErasureReason.ANONYMISED}
    assert [e.contact_id for e in batch.events] == ["003Y"]
