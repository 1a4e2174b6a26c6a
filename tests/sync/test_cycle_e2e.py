"""Issue 5's acceptance, end to end over HTTPS against the emulator: org activity in, details out."""

from __future__ import annotations

from collections.abc import Callable

from connector.config import Settings, load_settings
from connector.ledger.sync_state import last_cycles

from .conftest import EXAMPLE, T0, Org


def details(org: Org, contact_id: str) -> tuple[object, ...]:
    """(score, band, medal, first qualification, first placement) as the org shows them, as plain values."""
    c = org.contact(contact_id)
    score = c["Lead_Score__c"]
    dates = [c[f] for f in ("Date_First_Qualification__c", "Date_First_Placement__c")]
    return (None if score is None else int(score), c["Lead_Score_Band__c"], c["Medal__c"],
            *(d.isoformat() if d is not None else None for d in dates))  # fmt: skip


def test_worked_example_read_back_from_the_org(org: Org) -> None:
    candidate, job = org.candidate(), org.job()
    application = org.em.org.apply(candidate, job, "Websollicitatie")
    org.cycle()
    assert details(org, candidate) == (None, None, None, None, None)

    org.em.org.move_application(application, "Intake verwerkt")
    org.cycle()
    today = T0.date().isoformat()
    assert details(org, candidate) == (30, "Lukewarm", "Bronze", today, None)

    org.em.org.move_application(application, "Voorgesteld")
    org.cycle()
    assert details(org, candidate)[1:3] == ("Warm", "Silver")

    org.em.org.move_application(application, "Aangenomen")
    org.cycle()
    assert details(org, candidate) == (95, "Hot", "Gold", today, today)

    org.em.org.move_application(application, "Afgewezen")
    org.cycle()
    assert details(org, candidate)[2:] == ("Gold", today, today)
    lines = {r["Rule__c"]: int(r["Points__c"]) for r in org.em.org.records("Lead_Score_Line__c")}
    assert lines == {"intake": 30, "proposed": 25, "hired": 40}


def test_medal_set_in_the_org_is_not_lowered(org: Org) -> None:
    candidate, job = org.candidate(), org.job()
    org.em.org.update("Contact", candidate, {"Medal__c": "Gold", "Date_First_Placement__c": "2025-05-01"})
    org.em.org.apply(candidate, job, "Intake verwerkt")
    org.cycle()
    # Score and band follow the rules; the org's gold medal and placement date stay as they were.
    assert details(org, candidate) == (30, "Lukewarm", "Gold", T0.date().isoformat(), "2025-05-01")


def test_idle_cycle_costs_one_query_per_source_and_no_writes(org: Org) -> None:
    candidate, job = org.candidate(), org.job()
    org.em.org.apply(candidate, job, "Intake verwerkt")
    org.cycle()
    org.cycle()  # settles the contact re-read after our own write
    org.em.org.reset_calls()
    report = org.cycle()
    calls = org.em.org.call_counts()
    queries = sum(n for endpoint, n in calls.items() if "query" in endpoint)
    # One windowed query per source, one for the score lines read back (no visit or job view was ever
    # written, so those objects cost nothing), and with the default step_history = "auto" the step
    # history's window (whether the org tracks it was asked by the first poll, and is reused for a
    # day); the org binding uses the login's identity URL.
    assert queries == len(org.settings.org_sources()) + 1 + 1, calls
    assert org.write_calls() == 0, calls
    assert (report.events_added, report.writes) == (0, 0)


def test_two_opens_of_one_message_score_once_and_repoll_adds_nothing(org: Org) -> None:
    candidate = org.candidate()
    message = org.em.org.create(
        "EmailMessage", {"Subject": "Nieuwe vacature", "Incoming": False, "IsTracked": True}
    )
    org.em.org.create("EmailMessageRelation", {"EmailMessageId": message, "RelationId": candidate,
                                               "RelationType": "ToAddress"})  # fmt: skip
    org.em.org.open_email(message)
    org.cycle()
    org.em.org.advance(3600)
    org.em.org.open_email(message)
    second = org.cycle()
    assert details(org, candidate)[0] == 2
    assert second.events_added == 0
    assert org.cycle(after_seconds=1).events_added == 0


def test_changed_weights_write_exactly_the_contacts_whose_score_changed(make_org: Callable[..., Org]) -> None:
    org = make_org()
    job = org.job()
    hired, intake = org.candidate("A"), org.candidate("B")
    org.em.org.apply(hired, job, "Aangenomen")
    org.em.org.apply(intake, job, "Intake verwerkt")
    org.cycle()
    org.cycle()
    text = EXAMPLE.read_text().replace("points = 40", "points = 45")
    changed = org.settings.model_copy(update={"scoring": _parse(text).scoring})
    org.settings = changed
    org.em.org.reset_calls()
    report = org.cycle(kind="daily")
    assert [p.contact_id for p in report.plan] == [hired]
    assert details(org, hired)[0] == 45
    assert details(org, intake)[0] == 30


def test_deleted_contact_is_erased_from_the_ledger(org: Org) -> None:
    candidate, job = org.candidate(), org.job()
    org.em.org.apply(candidate, job, "Intake verwerkt")
    org.cycle()
    assert org.ledger.events_of([candidate])
    org.em.org.delete("Contact", candidate)
    report = org.cycle()
    assert report.erased == 1
    assert org.ledger.events_of([candidate]) == {}
    assert org.ledger.states([candidate]) == {}


def test_cycle_is_logged_for_status(org: Org) -> None:
    org.cycle()
    (last,) = last_cycles(org.ledger)
    assert last["status"] == "ok"
    sources = {"contacts", "applications", "emails", "email_replies", "appointments"}
    assert set(last["summary"]["fetched"]) == sources


def _parse(text: str) -> Settings:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.toml"
        path.write_text(text)
        return load_settings(path)


def test_step_history_sees_every_transition_within_one_poll(make_org: Callable[..., Org]) -> None:
    from connector.config.sync import SyncSettings

    settings = load_settings(EXAMPLE).model_copy(update={"sync": SyncSettings(step_history=True)})
    org = make_org(settings)
    candidate, job = org.candidate(), org.job()
    application = org.em.org.apply(candidate, job, "Websollicitatie")
    org.cycle()
    for step in ("Intake verwerkt", "Voorgesteld", "Aangenomen"):  # all within one poll interval
        org.em.org.advance(5)
        org.em.org.move_application(application, step)
    org.cycle()
    steps = sorted(
        e.attrs["step"] for e in org.ledger.events_of([candidate])[candidate] if e.kind == "application.step"
    )
    assert steps == ["Aangenomen", "Intake verwerkt", "Voorgesteld", "Websollicitatie"]
    assert details(org, candidate)[:3] == (95, "Hot", "Gold")
    lines = {r["Rule__c"] for r in org.em.org.records("Lead_Score_Line__c")}
    assert lines == {"intake", "proposed", "hired"}


def test_without_history_only_the_latest_step_is_seen(org: Org) -> None:
    org.track_steps(False)  # step_history = "auto" then reads no history
    candidate, job = org.candidate(), org.job()
    application = org.em.org.apply(candidate, job, "Websollicitatie")
    org.cycle()
    for step in ("Intake verwerkt", "Voorgesteld"):
        org.em.org.advance(5)
        org.em.org.move_application(application, step)
    org.cycle()
    assert details(org, candidate)[:3] == (25, "Lukewarm", "Silver")  # intake's 30 points were never seen


def test_a_medal_set_by_hand_inside_the_read_lag_is_not_written_over(org: Org) -> None:
    candidate, job = org.candidate(), org.job()
    application = org.em.org.apply(candidate, job, "Websollicitatie")
    org.cycle()
    org.em.org.move_application(application, "Intake verwerkt")
    org.em.org.advance(300)
    # The recruiter sets Gold seconds before the cycle: the contacts window (now - lag) cannot see it yet.
    org.em.org.update("Contact", candidate, {"Medal__c": "Gold"})
    org.cycle(after_seconds=1)
    assert details(org, candidate)[:3] == (30, "Lukewarm", "Gold")


def test_a_cycle_while_the_breaker_is_open_stops_without_calling_the_org(org: Org) -> None:
    org.em.org.fail_next(1, status=403, endpoint="queryAll")
    assert "REQUEST_LIMIT_EXCEEDED" in org.cycle().reason
    org.em.org.reset_calls()
    paused = org.cycle()
    assert (paused.status, paused.fetched) == ("stopped", {})
    assert "paused until" in paused.reason
    assert org.em.org.call_counts() == {}
    assert [c["status"] for c in last_cycles(org.ledger, limit=2)] == ["stopped", "stopped"]
    org.em.org.advance(org.client.settings.breaker_cooldown_seconds)
    assert org.cycle().status == "ok"


def test_an_application_moved_back_to_intake_scores_intake_once(org: Org) -> None:
    candidate, job = org.candidate(), org.job()
    application = org.em.org.apply(candidate, job, "Intake verwerkt")
    org.cycle()
    assert org.contact(candidate)["Lead_Score__c"] == 30
    org.em.org.move_application(application, "Voorgesteld")
    org.cycle()
    assert org.contact(candidate)["Lead_Score__c"] == 55
    org.em.org.move_application(application, "Intake verwerkt")
    again = org.cycle()
    assert again.events_added == 1  # the step was seen; it just earns nothing a second time
    assert org.contact(candidate)["Lead_Score__c"] == 55


def test_switching_step_history_on_then_a_backfill_changes_no_score(org: Org) -> None:
    from connector.config.sync import SyncSettings
    from connector.shell.cycle import backfill_plan, run_backfill

    org.settings = org.settings.model_copy(update={"sync": SyncSettings(step_history=False)})
    candidate, job = org.candidate(), org.job()
    application = org.em.org.apply(candidate, job, "Websollicitatie")
    org.cycle()
    for step in ("Intake verwerkt", "Voorgesteld"):  # one poll per step: each seen from the record
        org.em.org.move_application(application, step)
        org.cycle()
    before = details(org, candidate)
    assert before[:3] == (55, "Warm", "Silver")
    org.settings = org.settings.model_copy(update={"sync": SyncSettings()})  # "auto": the org tracks it
    now = org.em.org.advance(120)
    report = run_backfill(
        org.client, org.ledger, org.settings, now, backfill_plan(org.client, org.settings, T0, now)
    )
    assert report.status == "ok"
    assert details(org, candidate) == before
    assert org.cycle().writes == 0
    steps = [
        e.attrs["step"] for e in org.ledger.events_of([candidate])[candidate] if e.kind == "application.step"
    ]
    assert sorted(steps) == ["Intake verwerkt", "Voorgesteld", "Websollicitatie"]  # each transition once
