"""Salesforce object and field names: MSR defaults, in one place.

The emulator builds its schema from these defaults, so the fake org and the connector's defaults cannot
drift apart. Names of the non-public MSR objects (job application, lead-score line, website visit,
website job view) are our choice; `msr-engage discover` proposes the real ones for an org.
"""

from __future__ import annotations

from pydantic import Field

from connector.config.scoring import Strict


class ContactFields(Strict):
    """Contact (candidates and contact persons) and its recruitment-detail fields."""

    object: str = "Contact"
    record_type: str = "RecordType.DeveloperName"
    candidate_record_type: str = "Candidate"
    contact_person_record_type: str = "Contact_Person"
    score: str = "Lead_Score__c"
    band: str = "Lead_Score_Band__c"
    medal: str = "Medal__c"
    first_qualified_on: str = "Date_First_Qualification__c"
    first_placed_on: str = "Date_First_Placement__c"
    tracking_consent: str = "Tracking_Consent__c"
    # Picklist values the org uses for our bands and medals.
    band_values: dict[str, str] = Field(
        default_factory=lambda: {
            "hot": "Hot",
            "warm": "Warm",
            "lukewarm": "Lukewarm",
            "cold": "Cold",
        }
    )
    medal_values: dict[str, str] = Field(
        default_factory=lambda: {"bronze": "Bronze", "silver": "Silver", "gold": "Gold"}
    )


class JobFields(Strict):
    """Vacancies (public MSR name)."""

    object: str = "msf__Job__c"
    name: str = "Name"


class ApplicationFields(Strict):
    """Job applications and their step picklist."""

    object: str = "msf__Job_Application__c"
    contact: str = "msf__Candidate__c"
    job: str = "msf__Job__c"
    step: str = "msf__Step__c"


class ScoreLineFields(Strict):
    """Lead-score lines: one per contact and rule, child of Contact."""

    object: str = "Lead_Score_Line__c"
    contact: str = "Contact__c"
    rule: str = "Rule__c"
    points: str = "Points__c"
    external_id: str = "External_Id__c"


class WebsiteVisitFields(Strict):
    """Website visits: one per visit, child of Contact."""

    object: str = "Website_Visit__c"
    contact: str = "Contact__c"
    visited_at: str = "Visited_At__c"
    pages: str = "Pages__c"
    landing_url: str = "Landing_Url__c"
    duration_seconds: str = "Duration_Seconds__c"
    external_id: str = "External_Id__c"


class JobViewFields(Strict):
    """Website job views: one per contact and vacancy, child of Contact and of the vacancy."""

    object: str = "Website_Job_View__c"
    contact: str = "Contact__c"
    job: str = "Job__c"
    first_viewed: str = "First_Viewed__c"
    last_viewed: str = "Last_Viewed__c"
    view_count: str = "View_Count__c"
    external_id: str = "External_Id__c"


class ObjectMapping(Strict):
    """Every object and field API name the connector reads or writes (`[salesforce.objects]`)."""

    contact: ContactFields = Field(default_factory=ContactFields)
    job: JobFields = Field(default_factory=JobFields)
    application: ApplicationFields = Field(default_factory=ApplicationFields)
    score_line: ScoreLineFields = Field(default_factory=ScoreLineFields)
    website_visit: WebsiteVisitFields = Field(default_factory=WebsiteVisitFields)
    job_view: JobViewFields = Field(default_factory=JobViewFields)
