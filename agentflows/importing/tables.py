"""What each of our tables accepts from an import: one pydantic row model per table, and its links.

pydantic, not pandera: it is already a dependency, it validates one row at a time (so every bad row is
reported with its own line, not a failed frame), and its error locations name our field, which the
mapping turns back into the user's column name. Normalisation lives in the validators, so the file, the
dry run, the database and the sync flow see the same values: emails lower-cased and checked, domains
without scheme, `www.` or path, vocabulary words (seniority, deal stage, activity kind) translated
through the mapping's `values` and then checked against our enums.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from agentflows.db.base import Base
from agentflows.db.crm import Account, Activity, ActivityKind, Contact, Deal, DealStage, Seniority

_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_DOMAIN = re.compile(rf"^{_LABEL}(?:\.{_LABEL})+$")
_EMAIL = re.compile(rf"^[a-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@{_LABEL}(?:\.{_LABEL})+$")


def normalize_email(value: str) -> str:
    """`  Ada.Lovelace@Example.COM ` -> `ada.lovelace@example.com`; anything that is not an address fails."""
    email = value.strip().lower()
    if not _EMAIL.match(email):
        raise ValueError(f"{value!r} is not an email address (expected name@company.tld)")
    return email


def normalize_domain(value: str) -> str:
    """`https://www.Acme.com/about?x=1` -> `acme.com`: scheme, `www.`, port, path and query dropped."""
    text = value.strip().lower()
    host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    host = host.removeprefix("www.").rstrip(".")
    if not _DOMAIN.match(host):
        raise ValueError(f"{value!r} is not a domain or website address (expected e.g. acme.com)")
    return host


def _vocabulary(value: Any, info: ValidationInfo, enum: type[StrEnum]) -> StrEnum:
    """Their word -> ours, through the mapping's `values` for this field, then our enum; else a clear error."""
    if isinstance(value, enum):
        return value
    ctx = info.context or {}
    word = str(value).strip()
    mapped = ctx.get("values", {}).get(info.field_name, {})
    lookup = {str(k).strip().lower(): v for k, v in mapped.items()}
    ours = lookup.get(word.lower(), word)
    try:
        return enum(str(ours).strip().lower())
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise ValueError(
            f"{word!r} is not mapped: add it under {ctx.get('table', '?')}.values.{info.field_name} in the mapping "
            f"file, e.g. `{word}: {next(iter(enum)).value}` (our values: {allowed})"
        ) from None


def _utc(value: datetime | None) -> datetime | None:
    """Timestamps without a zone are read as UTC (what a CRM export usually means)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ImportRow(BaseModel):
    """A row of any table: blank cells are missing values, text is stripped, unknown fields refused."""

    # a SQL source hands over ids and codes as numbers: 1042 is the external id "1042"
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, coerce_numbers_to_str=True)

    external_id: str = Field(min_length=1, max_length=200)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_missing(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (v is None or (isinstance(v, str) and not v.strip()))}
        return data


class AccountRow(ImportRow):
    name: str = Field(min_length=1, max_length=200)
    domain: str = Field(max_length=200)
    website: str | None = Field(default=None, max_length=400)
    industry: str = Field(default="", max_length=100)
    employees: int = Field(default=0, ge=0)
    region: str = Field(default="", max_length=100)
    created_at: datetime | None = None

    _domain = field_validator("domain", mode="before")(lambda v: normalize_domain(str(v)))
    _when = field_validator("created_at", mode="after")(lambda v: _utc(v))

    def columns(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True) | {"website": self.website or f"https://{self.domain}/"}


class ContactRow(ImportRow):
    account: str = Field(min_length=1)
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(default="", max_length=100)
    email: str = Field(max_length=254)
    role: str = Field(default="", max_length=150)
    department: str = Field(default="", max_length=100)
    seniority: Seniority
    created_at: datetime | None = None

    _email = field_validator("email", mode="before")(lambda v: normalize_email(str(v)))
    _when = field_validator("created_at", mode="after")(lambda v: _utc(v))

    @field_validator("seniority", mode="before")
    @classmethod
    def _seniority(cls, value: Any, info: ValidationInfo) -> Any:
        return _vocabulary(value, info, Seniority)

    def columns(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude={"account"})


class DealRow(ImportRow):
    account: str = Field(min_length=1)
    name: str = Field(min_length=1, max_length=200)
    product: str = Field(default="", max_length=100)
    stage: DealStage
    amount: Decimal = Field(default=Decimal(0), ge=0, max_digits=12, decimal_places=2)
    created_at: datetime | None = None
    closed_at: datetime | None = None

    _when = field_validator("created_at", "closed_at", mode="after")(lambda v: _utc(v))

    @field_validator("stage", mode="before")
    @classmethod
    def _stage(cls, value: Any, info: ValidationInfo) -> Any:
        return _vocabulary(value, info, DealStage)

    def columns(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude={"account"}) | {"closed_at": self.closed_at}


class ActivityRow(ImportRow):
    account: str = Field(min_length=1)
    contact: str | None = None
    kind: ActivityKind
    occurred_at: datetime
    subject: str = Field(default="", max_length=300)
    body: str = ""

    _when = field_validator("occurred_at", mode="after")(lambda v: _utc(v))

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any, info: ValidationInfo) -> Any:
        return _vocabulary(value, info, ActivityKind)

    def columns(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude={"account", "contact"})


@dataclass(frozen=True)
class TableSpec:
    """One importable table: its row model, the ORM model it fills, what it refers to, its other unique key."""

    name: str
    row: type[ImportRow]
    model: type[Base]
    references: dict[str, str] = field(default_factory=dict)  # our field -> table whose external id it names
    unique: str | None = None  # a second unique column (domain, email): a clash is a bad row, not a crash
    addresses: dict[str, str] = field(default_factory=dict)  # address id column -> field prefix (`delivery`)

    @property
    def fields(self) -> list[str]:
        return list(self.row.model_fields)

    def address_columns(self) -> set[str]:
        """The row fields that become an `addresses` row rather than a column of this table."""
        parts = ("line1", "city", "postcode", "country", "lat", "lon")
        return {f"{prefix}_{p}" for prefix in self.addresses.values() for p in parts} & set(self.fields)

    @property
    def required(self) -> list[str]:
        return [n for n, f in self.row.model_fields.items() if f.is_required()]


CRM_TABLES: dict[str, TableSpec] = {
    "accounts": TableSpec("accounts", AccountRow, Account, unique="domain"),
    "contacts": TableSpec("contacts", ContactRow, Contact, {"account": "accounts"}, unique="email"),
    "deals": TableSpec("deals", DealRow, Deal, {"account": "accounts"}),
    "activities": TableSpec("activities", ActivityRow, Activity, {"account": "accounts", "contact": "contacts"}),
}
"""In dependency order: a table only refers to tables before it."""
