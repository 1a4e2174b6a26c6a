"""Every step counts once, at default settings: `step_history = "auto"` reads the step's field history
when the org tracks it (asked the real way, FieldDefinition.IsFieldHistoryTracked), end to end over
HTTPS; `check` says whether steps between polls are read, and names what the sources cannot read."""

from __future__ import annotations

from connector.config import Settings
from connector.config.sync import SyncSettings
from connector.sf.mapping import discover
from connector.shell.org_check import discover_note, org_check

from .conftest import T0, Org


def _between_two_polls(org: Org) -> str:
    """Websollicitatie, then Intake verwerkt and Afgewezen between two polls; returns the candidate."""
    candidate, job = org.candidate(), org.job()
    application = org.em.org.apply(candidate, job, "Websollicitatie")
    org.cycle()
    for step in ("Intake verwerkt", "Afgewezen"):
        org.em.org.advance(5)
        org.em.org.move_application(application, step)
    assert org.cycle().status == "ok"
    return candidate


def test_default_config_with_history_tracked_gives_bronze_and_the_first_qualification(org: Org) -> None:
    assert org.settings.sync.step_history == "auto"  # the example config leaves the default
    candidate = _between_two_polls(org)
    shown = org.contact(candidate)
    assert (shown["Medal__c"], shown["Date_First_Qualification__c"]) == ("Bronze", T0.date())
    assert shown["Lead_Score__c"] == 30  # intake's points, though the record only ever showed Afgewezen


def test_default_config_without_tracking_misses_the_step_then_follows_the_admin(org: Org) -> None:
    org.track_steps(False)
    candidate = _between_two_polls(org)
    assert org.contact(candidate)["Medal__c"] is None  # what `check` warns about
    org.track_steps(True)  # the admin turns tracking on
    same_day = _between_two_polls(org)
    assert org.contact(same_day)["Medal__c"] is None  # polls reuse the day's answer: not asked yet
    assert org.cycle(kind="daily").status == "ok"  # the nightly pass asks again: no restart needed
    later = _between_two_polls(org)
    assert org.contact(later)["Medal__c"] == "Bronze"


def test_a_poll_asks_about_tracking_again_once_the_answer_is_a_day_old(org: Org) -> None:
    org.track_steps(False)
    org.cycle()
    first = _asked(org)
    org.track_steps(True)
    org.cycle(after_seconds=23 * 3600)
    assert _asked(org) == first  # the ledger's answer (false, asked by the first poll) is reused
    org.cycle(after_seconds=3600 + 60)
    assert _asked(org) == ("true", org.em.org.clock.now().isoformat())
    later = _between_two_polls(org)
    assert org.contact(later)["Medal__c"] == "Bronze"


def _asked(org: Org) -> tuple[str, str]:
    """The ledger's answer to "does the org track the step's history?" and when it was asked."""
    app = org.em.org.mapping.application
    answer, _, at = (org.ledger.meta(f"step_history_tracked:{app.object}.{app.step}") or "").partition("@")
    return answer, at


def test_a_refused_field_definition_query_reads_no_history_and_the_cycle_goes_on(org: Org) -> None:
    org.em.org.access.hide("FieldDefinition")
    candidate = _between_two_polls(org)
    assert org.contact(candidate)["Medal__c"] is None


def _check(org: Org, settings: Settings | None = None) -> dict[str, tuple[bool, bool, str]]:
    full = settings or org.settings
    assert full.salesforce is not None
    rows = org_check(full, full.salesforce, lambda: org.client)
    return {row.item: (row.ok, row.warn, row.detail) for row in rows}


def test_check_says_steps_between_polls_are_read_when_tracked(org: Org) -> None:
    rows = _check(org)
    assert rows["sync.step_history"] == (
        True, False, "history tracked on msf__Job_Application__c.msf__Step__c: steps between polls are read"
    )  # fmt: skip
    assert all(ok for ok, _, _ in rows.values()), rows


def test_check_warns_when_not_tracked_and_fails_when_forced(org: Org) -> None:
    org.track_steps(False)
    ok, warn, detail = _check(org)["sync.step_history"]
    assert (ok, warn) == (True, True)
    assert "steps between polls can be missed" in detail
    forced = org.settings.model_copy(update={"sync": SyncSettings(step_history=True)})
    ok, warn, detail = _check(org, forced)["sync.step_history"]
    assert not ok
    assert "does not track history" in detail


def test_check_fails_on_a_field_the_sources_read_that_the_user_cannot_read(org: Org) -> None:
    org.em.org.access.hide("EmailMessage", "FirstOpenedDate")
    rows = _check(org)
    ok, _, detail = rows["sources: EmailMessage.FirstOpenedDate"]
    assert not ok
    assert detail == "EmailMessage.FirstOpenedDate is not readable by the integration user (not in describe)"


def test_check_fails_on_an_object_the_sources_read_that_the_user_cannot_read(org: Org) -> None:
    org.em.org.access.hide("EmailMessageRelation")
    ok, _, detail = _check(org)["sources: EmailMessageRelation"]
    assert not ok
    assert detail == "EmailMessageRelation is not readable by the integration user (not in describeGlobal)"


def test_check_reads_the_history_object_when_history_is_read(org: Org) -> None:
    org.em.org.access.hide("msf__Job_Application__History")
    ok, _, detail = _check(org)["sources: msf__Job_Application__History"]
    assert not ok
    assert "not readable" in detail


def test_discover_proposes_auto_and_says_whether_steps_between_polls_are_read(org: Org) -> None:
    note = discover_note(org.client, discover(org.client))
    assert note.startswith('# [sync] step_history = "auto" (the default): history tracked on')
    org.track_steps(False)
    assert "steps between polls can be missed" in discover_note(org.client, discover(org.client))
