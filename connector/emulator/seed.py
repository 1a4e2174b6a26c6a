"""The `demo` seed: an org that looks like a recruitment agency's after a few busy months.

~500 candidates and 30 contact persons (most with tracking consent), 40 vacancies, applications over
the last 90 days at every step (with field history at the moments they moved), e-mails with opens,
clicks and replies, and appointments. Everything is written through the store with timestamps in
the past, as a real org's history would be, from a fixed random seed relative to the org's clock.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from connector.emulator.values import truncate

if TYPE_CHECKING:
    from connector.emulator.org import Emulator

FIRST = [
    "Anna",
    "Bram",
    "Chantal",
    "Daan",
    "Eva",
    "Femke",
    "Gijs",
    "Hanna",
    "Iris",
    "Jeroen",
    "Kim",
    "Lars",
    "Lotte",
    "Mila",
    "Noah",
    "Olaf",
    "Priya",
    "Ruben",
    "Sanne",
    "Thijs",
    "Umar",
    "Vera",
    "Wout",
    "Yara",
    "Zoë",
]
LAST = [
    "de Jong",
    "Jansen",
    "de Vries",
    "van den Berg",
    "van Dijk",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Leeuwen",
    "Dekker",
    "Brouwer",
    "de Wit",
    "Dijkstra",
    "Smits",
    "de Graaf",
    "van der Meer",
    "Kaya",
    "Yilmaz",
    "El Amrani",
]
TITLES = [
    "Logistiek medewerker",
    "Heftruckchauffeur",
    "Orderpicker",
    "Productiemedewerker",
    "Administratief medewerker",
    "Klantenservice medewerker",
    "Monteur",
    "Elektricien",
    "Verpleegkundige",
    "Accountmanager",
    "Java developer",
    "Data analist",
    "Magazijnchef",
    "Planner",
    "Inkoper",
    "Boekhouder",
    "Receptionist",
    "Schoonmaker",
    "Kok",
    "Lasser",
]
CLIENTS = [
    "Bakker Logistiek BV",
    "Van Dijk Techniek",
    "Zorggroep Noord",
    "Mulder Bouw",
    "De Vries Food",
    "Smit Transport",
    "Visser IT",
    "Meijer Metaal",
    "Hendriks Horeca",
    "Bos Installaties",
    "Peters Retail",
    "Dekker Energie",
    "Brouwer Zorg",
    "Kaya Bouw",
    "Vos Verpakkingen",
]
SUBJECTS = (
    "Nieuwe vacature voor jou",
    "Je sollicitatie",
    "Uitnodiging intake",
    "Vacatures deze week",
    "Even bijpraten?",
)


def seed_demo(emu: Emulator, *, seed: int = 20261126) -> None:
    """Fill the org like a real agency's; the same seed and clock give the same org."""
    rng = random.Random(seed)
    now = truncate(emu.clock.now())
    store = emu.store
    m = emu.mapping
    c, a = m.contact, m.application

    def past(days_max: float, days_min: float = 0.0) -> datetime:
        return now - timedelta(seconds=rng.uniform(days_min * 86400, days_max * 86400))

    accounts = [store.create("Account", {"Name": name}, at=past(700, 400)) for name in CLIENTS]
    people = []
    for i in range(30):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        people.append(store.create(c.object, {
            "FirstName": first, "LastName": last, "Email": f"{first}.{i}@client{i % 15}.example".lower(),
            "RecordTypeId": emu.record_types[c.contact_person_record_type], "AccountId": accounts[i % 15],
            c.tracking_consent: rng.random() < 0.7,
        }, at=past(600, 100)))  # fmt: skip
    candidates = []
    for i in range(500):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        candidates.append(store.create(c.object, {
            "FirstName": first, "LastName": last, "Phone": f"+31 6 {rng.randrange(10**7, 10**8)}",
            "Email": f"{first}.{last.replace(' ', '')}.{i}@mail.example".lower(),
            "RecordTypeId": emu.record_types[c.candidate_record_type],
            c.tracking_consent: rng.random() < 0.85,
        }, at=past(400, 1)))  # fmt: skip
    jobs = [
        store.create(m.job.object, {
            m.job.name: f"{rng.choice(TITLES)} ({i + 1})", "msf__Account__c": rng.choice(accounts),
            "msf__Status__c": "Open" if rng.random() < 0.8 else "Closed",
        }, at=past(200, 30))
        for i in range(40)
    ]  # fmt: skip
    # Synthetic on purpose: each candidate has a hidden eagerness that drives both how they answer
    # e-mails and how far their applications get, so engagement and placement are related in this org.
    eager = {contact: rng.random() for contact in candidates}
    _applications(emu, rng, now, eager, jobs, a.object, a.contact, a.job, a.step)
    _emails(emu, rng, now, eager)
    for _ in range(150):
        start = truncate(now + timedelta(hours=rng.uniform(-90 * 24, 14 * 24)))
        store.create("Event", {
            "Subject": rng.choice(("Intakegesprek", "Sollicitatiegesprek bij klant", "Kennismaking")),
            "Type": "Meeting", "StartDateTime": start.isoformat(), "ActivityDateTime": start.isoformat(),
            "EndDateTime": (start + timedelta(hours=1)).isoformat(), "WhoId": rng.choice(candidates),
            "WhatId": rng.choice(jobs),
        }, at=min(start - timedelta(days=rng.uniform(1, 10)), now))  # fmt: skip


def _applications(
    emu: Emulator, rng: random.Random, now: datetime, eager: dict[str, float], jobs: list[str],
    obj: str, contact_field: str, job_field: str, step_field: str,
) -> None:  # fmt: skip
    """~700 applications over 90 days, each walking the steps with history at the moment it moved;
    an eager candidate's application gets further (each step's chance scaled by 0.2 to 1.8)."""
    candidates = list(eager)
    pairs: set[tuple[str, str]] = set()
    while len(pairs) < 700:
        pairs.add((rng.choice(candidates), rng.choice(jobs)))
    for contact, job in sorted(pairs):
        at = now - timedelta(seconds=rng.uniform(3600, 90 * 86400))
        first = "Match" if rng.random() < 0.4 else "Websollicitatie"
        app = emu.store.create(obj, {contact_field: contact, job_field: job, step_field: first}, at=at)
        for step, chance in (
            ("Intake verwerkt", 0.55),
            ("Voorgesteld", 0.5),
            ("Gesprek klant", 0.6),
            ("Aangenomen", 0.4),
        ):
            at += timedelta(hours=rng.uniform(4, 10 * 24))
            if at >= now:
                break
            if rng.random() >= min(0.95, chance * (0.2 + 1.6 * eager[contact])):
                if rng.random() < 0.3:
                    emu.store.update(obj, app, {step_field: "Afgewezen"}, at=at)
                break
            emu.store.update(obj, app, {step_field: step}, at=at)


def _emails(emu: Emulator, rng: random.Random, now: datetime, eager: dict[str, float]) -> None:
    """~900 tracked e-mails to candidates: about half opened, a fifth clicked, some replied to; the
    eager open, click and reply more often."""
    store = emu.store
    candidates = list(eager)
    for _ in range(900):
        contact = rng.choice(candidates)
        keen = eager[contact]
        sent = now - timedelta(seconds=rng.uniform(600, 90 * 86400))
        row = store.rows["Contact"][contact]
        message = store.create("EmailMessage", {
            "Subject": rng.choice(SUBJECTS), "FromAddress": "recruiter@agency.example",
            "ToAddress": row["Email"],
            "MessageDate": sent.isoformat(), "Incoming": False, "IsTracked": True, "Status": "3",
        }, at=sent)  # fmt: skip
        store.create("EmailMessageRelation", {
            "EmailMessageId": message, "RelationId": contact, "RelationType": "ToAddress",
            "RelationAddress": row["Email"],
        }, at=sent)  # fmt: skip
        if rng.random() >= 0.15 + 0.8 * keen:
            continue
        opened = min(sent + timedelta(minutes=rng.uniform(2, 3 * 24 * 60)), now)
        changes = {"FirstOpenedDate": opened.isoformat(), "LastOpenedDate": opened.isoformat()}
        if rng.random() < 0.7 * keen:
            changes["FirstLinkClickedDate"] = min(
                opened + timedelta(seconds=rng.uniform(5, 600)), now
            ).isoformat()
        store.update("EmailMessage", message, changes, at=opened)
        if rng.random() < 0.3 * keen:
            replied = min(opened + timedelta(hours=rng.uniform(0.2, 48)), now)
            store.update("EmailMessage", message, {"HasReply": True}, at=replied)
            reply = store.create("EmailMessage", {
                "Subject": "RE: " + rng.choice(SUBJECTS), "FromAddress": row["Email"], "Incoming": True,
                "MessageDate": replied.isoformat(), "ReplyToEmailMessageId": message, "Status": "0",
            }, at=replied)  # fmt: skip
            store.create("EmailMessageRelation", {
                "EmailMessageId": reply, "RelationId": contact, "RelationType": "FromAddress",
            }, at=replied)  # fmt: skip
