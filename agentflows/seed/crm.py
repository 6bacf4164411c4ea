"""A reproducible demo CRM: 200+ accounts, 1,000+ contacts, deals and believable histories.

Faker with a fixed seed makes the same CRM on every machine. It is shipped as CSV exports with a mapping
(`agentflows/data/examples/crm/`, written by `python -m agentflows.seed.crm`), and `seed_crm` loads them
through the import path, so every demo and test shows and exercises the import format.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from faker import Faker
from sqlalchemy import func, select

from agentflows.db import session_scope
from agentflows.db.crm import Account, Activity, ActivityKind, Contact, Deal, DealStage, Seniority

SEED = 20261124
INDUSTRIES = [
    "Retail",
    "Logistics",
    "Healthcare",
    "Financial Services",
    "Manufacturing",
    "Software",
    "Education",
    "Hospitality",
    "Energy",
    "Media",
]
REGIONS = ["North America", "Western Europe", "Nordics", "DACH", "UK & Ireland", "APAC", "LATAM"]
PRODUCTS = ["Analytics Cloud", "Data Pipelines", "Forecasting Add-on", "Support Plus"]
ROLES: list[tuple[str, str, Seniority]] = [
    ("Chief Executive Officer", "Executive", Seniority.C_LEVEL),
    ("Chief Operating Officer", "Operations", Seniority.C_LEVEL),
    ("Chief Financial Officer", "Finance", Seniority.C_LEVEL),
    ("Chief Technology Officer", "Engineering", Seniority.C_LEVEL),
    ("VP of Operations", "Operations", Seniority.VP),
    ("VP of Sales", "Sales", Seniority.VP),
    ("VP of Engineering", "Engineering", Seniority.VP),
    ("Director of Finance", "Finance", Seniority.DIRECTOR),
    ("Director of Data Engineering", "Data", Seniority.DIRECTOR),
    ("Head of IT", "IT", Seniority.DIRECTOR),
    ("Operations Manager", "Operations", Seniority.MANAGER),
    ("Marketing Manager", "Marketing", Seniority.MANAGER),
    ("Analytics Manager", "Data", Seniority.MANAGER),
    ("Senior Data Engineer", "Data", Seniority.INDIVIDUAL),
    ("Platform Architect", "Engineering", Seniority.INDIVIDUAL),
    ("Owner", "Executive", Seniority.C_LEVEL),
]
NOTE_TEMPLATES = [
    ("Discovery call", "Talked through their {topic}; {name} said reporting takes {days} days each month."),
    ("Webinar attended", "{name} attended our webinar on {topic} and asked about pricing."),
    ("Pricing sent", "Sent pricing for {product}; waiting on budget approval next quarter."),
    ("Trade show", "Met {name} at the {industry} summit; interested in {topic}."),
    ("Support ticket", "Opened a ticket about dashboard refresh times; resolved in {days} days."),
    ("Check-in call", "{name} mentioned a new initiative around {topic}."),
    ("Email reply", "{name} replied that timing is not right until after their {event}."),
    ("Demo", "Demoed {product} to {name} and two analysts; follow-up requested."),
]
TOPICS = [
    "inventory forecasting",
    "month-end close",
    "customer churn",
    "supplier delays",
    "staff scheduling",
    "cloud costs",
    "data quality",
    "executive dashboards",
]
EVENTS = ["ERP migration", "fiscal year end", "reorganisation", "peak season"]


def _now() -> datetime:
    return datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def build(fake: Faker, rng: random.Random, accounts: int, contacts_per_account: int):  # type: ignore[no-untyped-def]
    """Generate the demo CRM in memory (deterministic for a given seed)."""
    now = _now()
    rows: list[tuple[Account, list[Contact], list[Deal], list[tuple[Contact, Activity]]]] = []
    seen_domains: set[str] = set()
    seen_emails: set[str] = set()
    for _ in range(accounts):
        company = fake.unique.company()
        slug = "".join(ch for ch in company.lower() if ch.isalnum())[:24] or "company"
        domain = f"{slug}.example"
        while domain in seen_domains:
            domain = f"{slug}{rng.randint(2, 99)}.example"
        seen_domains.add(domain)
        employees = rng.choice([8, 15, 25, 40, 60, 120, 250, 600, 1500, 5000])
        account = Account(
            name=company,
            domain=domain,
            website=f"https://{domain}/",
            industry=rng.choice(INDUSTRIES),
            employees=employees,
            region=rng.choice(REGIONS),
            created_at=now - timedelta(days=rng.randint(30, 1500)),
        )
        contacts = []
        for _ in range(contacts_per_account + rng.randint(0, 2)):
            role, department, seniority = rng.choice(ROLES if employees >= 50 else ROLES[-1:] + ROLES[10:13])
            first, last = fake.first_name(), fake.last_name()
            email = f"{first}.{last}@{domain}".lower().replace(" ", "").replace("'", "")
            while email in seen_emails:
                email = f"{first}.{last}{rng.randint(2, 99)}@{domain}".lower().replace(" ", "").replace("'", "")
            seen_emails.add(email)
            contacts.append(
                Contact(
                    first_name=first, last_name=last, role=role, department=department, seniority=seniority, email=email
                )
            )
        deals = []
        customer = rng.random() < 0.3
        for i in range(rng.randint(0, 3) + (1 if customer else 0)):
            stage = DealStage.WON if customer and i == 0 else rng.choice([DealStage.OPEN, DealStage.LOST])
            created = now - timedelta(days=rng.randint(20, 700))
            product = rng.choice(PRODUCTS)
            deals.append(
                Deal(
                    name=f"{product} for {company}",
                    product=product,
                    stage=stage,
                    amount=rng.choice([4800, 12000, 24000, 60000, 150000]),
                    created_at=created,
                    closed_at=None if stage == DealStage.OPEN else created + timedelta(days=rng.randint(10, 90)),
                )
            )
        activities = []
        for _ in range(rng.randint(1, 10)):
            title, template = rng.choice(NOTE_TEMPLATES)
            person = rng.choice(contacts)
            kind = rng.choice([ActivityKind.NOTE, ActivityKind.CALL, ActivityKind.MEETING, ActivityKind.EMAIL_SENT])
            activities.append(
                (
                    person,
                    Activity(
                        kind=kind,
                        subject=title,
                        body=template.format(
                            topic=rng.choice(TOPICS),
                            name=person.first_name,
                            days=rng.randint(2, 9),
                            product=rng.choice(PRODUCTS),
                            industry=account.industry,
                            event=rng.choice(EVENTS),
                        ),
                        occurred_at=now - timedelta(days=rng.randint(1, 600), hours=rng.randint(0, 23)),
                        details={},
                    ),
                )
            )
        rows.append((account, contacts, deals, activities))
    return rows


EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "examples" / "crm"
"""The demo CRM as a team's export would look: four CSV files with their own column names, and `crm.yaml`."""

LEVELS = {
    Seniority.C_LEVEL: "C-Suite",
    Seniority.VP: "Vice President",
    Seniority.DIRECTOR: "Director",
    Seniority.MANAGER: "Manager",
    Seniority.INDIVIDUAL: "Individual Contributor",
}
STAGES = {DealStage.OPEN: "In Progress", DealStage.WON: "Closed Won", DealStage.LOST: "Closed Lost"}
TYPES = {
    ActivityKind.NOTE: "Note",
    ActivityKind.CALL: "Call",
    ActivityKind.MEETING: "Meeting",
    ActivityKind.EMAIL_SENT: "Email",
}


def _when(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def write_examples(folder: Path = EXAMPLES, accounts: int = 220, contacts_per_account: int = 4) -> None:
    """Write the generated CRM as CSV exports (maintainers run this when the generator changes).

    Rows are written in the order the old seed inserted them, so the imported demo has the same row ids.
    """
    fake = Faker("en_US")
    fake.seed_instance(SEED)
    rows = build(fake, random.Random(SEED), accounts, contacts_per_account)
    folder.mkdir(parents=True, exist_ok=True)
    files = {name: (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") for name in HEADERS}
    try:
        out = {name: csv.writer(f) for name, f in files.items()}
        for name, header in HEADERS.items():
            out[name].writerow(header)
        contact_no = deal_no = activity_no = 0
        for a, (account, contacts, deals, activities) in enumerate(rows, start=1):
            acc_id = f"ACC-{a:04d}"
            out["accounts"].writerow(
                [
                    acc_id,
                    account.name,
                    account.website,
                    account.industry,
                    account.employees,
                    account.region,
                    _when(account.created_at),
                ]
            )
            contact_ids = {}
            for c in contacts:
                contact_no += 1
                contact_ids[id(c)] = f"CON-{contact_no:05d}"
                out["contacts"].writerow(
                    [
                        contact_ids[id(c)],
                        acc_id,
                        c.first_name,
                        c.last_name,
                        c.email,
                        c.role,
                        c.department,
                        LEVELS[c.seniority],
                    ]
                )
            for d in deals:
                deal_no += 1
                out["deals"].writerow(
                    [
                        f"DEAL-{deal_no:05d}",
                        acc_id,
                        d.name,
                        d.product,
                        STAGES[d.stage],
                        f"{d.amount:.2f}",
                        _when(d.created_at),
                        _when(d.closed_at),
                    ]
                )
            for person, act in activities:
                activity_no += 1
                out["activities"].writerow(
                    [
                        f"ACT-{activity_no:05d}",
                        acc_id,
                        contact_ids[id(person)],
                        TYPES[act.kind],
                        _when(act.occurred_at),
                        act.subject,
                        act.body,
                    ]
                )
    finally:
        for f in files.values():
            f.close()


HEADERS = {
    "accounts": ["Account ID", "Company", "Website", "Industry", "Employees", "Region", "Created"],
    "contacts": ["Contact ID", "Account ID", "First", "Last", "Email", "Title", "Department", "Level"],
    "deals": ["Deal ID", "Account ID", "Deal Name", "Product", "Pipeline Stage", "Amount", "Create Date", "Close Date"],
    "activities": ["Activity ID", "Account ID", "Contact ID", "Type", "Date", "Subject", "Notes"],
}


def seed_crm(progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Load the demo CRM from the shipped example exports, through the same path as `agentflows import crm`.

    Upserts by external id, so seeding twice adds nothing. A demo database seeded before imports existed
    (its demo accounts have no external id) is left as it is: its deals and activities have no key to
    match, so importing would add them a second time. Returns table counts.
    """
    from agentflows.importing import load_mapping, run_import

    with session_scope() as session:
        old_seed = session.scalar(
            select(func.count(Account.id)).where(Account.external_id.is_(None), Account.domain.like("%.example"))
        )
    if old_seed:
        return _counts()

    done: dict[str, int] = {}
    totals: dict[str, int] = {}

    def on_progress(table: str, n: int, total: int) -> None:
        done[table], totals[table] = n, total
        if progress:
            progress(sum(done.values()), sum(totals.values()))

    run_import(load_mapping(EXAMPLES / "crm.yaml", "crm"), progress=on_progress)
    return _counts()


def _counts() -> dict[str, int]:
    with session_scope() as session:
        return {
            "accounts": session.scalar(select(func.count(Account.id))) or 0,
            "contacts": session.scalar(select(func.count(Contact.id))) or 0,
            "deals": session.scalar(select(func.count(Deal.id))) or 0,
            "activities": session.scalar(select(func.count(Activity.id))) or 0,
        }


if __name__ == "__main__":
    write_examples()
