"""Pure read-back decisions: which reads of the org change what the plan diffs against."""

from __future__ import annotations

from datetime import UTC, date, datetime

from connector.config import ObjectMapping
from connector.details import LineFacts, ShownDetails
from connector.events import WEB_JOB_VIEW, WEB_VISIT, make_event
from connector.pixel.records import job_view_rows, visit_rows
from connector.sync.readback import ChildReads, child_reads, current_reads, line_reads, older_than_write
from connector.sync.web import org_digest, web_specs

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WRITTEN = T0.replace(
    microsecond=700_000
)  # a cycle's start, with microseconds  # a cycle's start, with microseconds


def read(modstamp: str, rid: str = "003A") -> dict[str, object]:
    return {"Id": rid, "SystemModstamp": modstamp}


def test_a_read_stamped_a_second_before_our_write_is_older() -> None:
    assert older_than_write(read("2026-03-02T08:59:59.000+0000"), WRITTEN)


def test_a_read_from_the_second_of_our_write_may_be_newer_and_counts() -> None:
    # SystemModstamp has whole seconds: 09:00:00 may be an edit made just after our write at 09:00:00.7.
    assert not older_than_write(read("2026-03-02T09:00:00.000+0000"), WRITTEN)
    assert not older_than_write(read("2026-03-02T09:00:01.000+0000"), WRITTEN)


def test_a_record_never_written_by_us_or_without_a_stamp_counts() -> None:
    assert not older_than_write(read("2020-01-01T00:00:00.000+0000"), None)
    assert not older_than_write({"Id": "003A"}, WRITTEN)


def test_current_reads_drop_only_records_older_than_their_own_write() -> None:
    records = [read("2026-03-02T08:00:00Z", "003A"), read("2026-03-02T08:00:00Z", "003B")]
    current, older = current_reads(records, {"003A": WRITTEN})
    assert ([r["Id"] for r in current], older) == (["003B"], 1)


# -- score lines --------------------------------------------------------------------------------------

SL = ObjectMapping().score_line
CONTACT = "003Kb00000000001AA"


def line(rule: str, points: object, **more: object) -> dict[str, object]:
    return {"Id": f"a0D{rule}", "SystemModstamp": "2026-03-02T09:00:00.000+0000", "IsDeleted": False,
            SL.external_id: f"{CONTACT}:{rule}", SL.contact: CONTACT, SL.rule: rule, SL.points: points,
            SL.events: 1, SL.last_event_on: "2026-03-02", SL.lapses_on: "2026-05-31", **more}  # fmt: skip


def facts(points: int) -> LineFacts:
    return LineFacts(points, 1, date(2026, 3, 2), date(2026, 5, 31))


SHOWN = {CONTACT: ShownDetails(CONTACT, lines={"intake": facts(30), "proposed": facts(25)})}


def test_score_lines_as_we_wrote_them_change_nothing() -> None:
    assert line_reads([line("intake", 30.0), line("proposed", 25)], SL, SHOWN) == []


def test_a_line_changed_in_the_org_becomes_the_lines_to_diff_against() -> None:
    (changed,) = line_reads([line("intake", 60.0)], SL, SHOWN)
    assert dict(changed.lines) == {"intake": facts(60), "proposed": facts(25)}


def test_a_fact_changed_in_the_org_is_read_with_the_points() -> None:
    (changed,) = line_reads([line("intake", 30, **{SL.events: 7.0, SL.lapses_on: None})], SL, SHOWN)
    assert changed.lines["intake"] == LineFacts(30, 7, date(2026, 3, 2), None)
    (garbled,) = line_reads([line("intake", 30, **{SL.events: 1.5, SL.last_event_on: "soon"})], SL, SHOWN)
    assert garbled.lines["intake"] == LineFacts(30, None, None, date(2026, 5, 31))


def test_a_deleted_or_rewired_line_is_left_out_so_it_is_planned_again() -> None:
    reads = [
        line("intake", 30, IsDeleted=True),
        line("proposed", 25, **{SL.rule: "something else"}),
    ]
    (changed,) = line_reads(reads, SL, SHOWN)
    assert dict(changed.lines) == {}
    (odd,) = line_reads([line("intake", 30.5)], SL, SHOWN)
    assert dict(odd.lines) == {"proposed": facts(25)}


def test_the_latest_read_of_a_line_decides() -> None:
    # A line deleted by hand and re-created by us: both records carry the same external id.
    reads = [line("intake", 30, IsDeleted=True), line("intake", 30)]
    assert line_reads(reads, SL, SHOWN) == []


def test_lines_of_contacts_without_a_shown_row_are_not_judged() -> None:
    stranger = line("intake", 1, **{SL.external_id: "003OTHER:intake"})
    assert line_reads([stranger, line("intake", 1, **{SL.external_id: "no rule here"})], SL, SHOWN) == []


# -- website visits and job views ---------------------------------------------------------------------

VISITS, VIEWS = web_specs(ObjectMapping())


def test_the_specs_cover_every_field_of_the_rows_we_write() -> None:
    mapping = ObjectMapping()
    visit = make_event(CONTACT, WEB_VISIT, T0, {"visit_id": "v1", "pages": 2, "landing_url": "/"})
    seen = make_event(CONTACT, WEB_JOB_VIEW, T0, {"job_id": "a0B000000000001AAA"})
    for spec, rows in ((VISITS, visit_rows([visit], mapping.website_visit)),
                       (VIEWS, job_view_rows([seen], mapping.job_view))):  # fmt: skip
        (row,) = rows
        assert set(spec.fields) == set(row)


def test_our_write_read_back_in_the_orgs_form_has_the_same_digest() -> None:
    written = {"Contact__c": CONTACT[:15], "Visited_At__c": "2026-03-02T09:15:00.250Z",
               "Pages__c": 2, "Landing_Url__c": "", "Duration_Seconds__c": 0}  # fmt: skip
    read = {"Contact__c": CONTACT, "Visited_At__c": "2026-03-02T09:15:00.000+0000",
            "Pages__c": 2.0, "Landing_Url__c": None, "Duration_Seconds__c": 0.0}  # fmt: skip
    assert org_digest(VISITS, written) == org_digest(VISITS, read)
    assert org_digest(VISITS, written) != org_digest(VISITS, {**read, "Pages__c": 3.0})


def visit(ext: str, pages: float, deleted: bool = False) -> dict[str, object]:
    return {"Id": f"a0E{ext}", "SystemModstamp": "2026-03-02T09:00:00.000+0000", "IsDeleted": deleted,
            "External_Id__c": ext, "Contact__c": CONTACT, "Visited_At__c": "2026-03-02T09:15:00.000+0000",
            "Pages__c": pages, "Landing_Url__c": "/", "Duration_Seconds__c": 0.0}  # fmt: skip


def test_visits_edited_or_deleted_in_the_org_reopen_their_contact() -> None:
    confirmed = {ext: (CONTACT, org_digest(VISITS, visit(ext, 2))) for ext in ("v1", "v2", "v3")}
    reads = child_reads(
        [visit("v1", 2), visit("v2", 5), visit("v3", 2, deleted=True), visit("not ours", 1)],
        VISITS,
        confirmed,
    )
    assert reads.differ == {"v2": (CONTACT, org_digest(VISITS, visit("v2", 5)))}
    assert (reads.gone, reads.contacts) == (["v3"], [CONTACT])
    assert child_reads([visit("v3", 2, deleted=True), visit("v3", 2)], VISITS, confirmed) == ChildReads()
