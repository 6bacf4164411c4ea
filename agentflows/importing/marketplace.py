"""The marketplace tables an import accepts: customers, orders, returns, tracking, payment incidents,
claims and known fraud addresses, each a pydantic row model like the CRM's (see `tables.py`).

Addresses come inline, as the columns of the row that uses them (`delivery_line1`, `delivery_city`,
`delivery_postcode`, `delivery_country`, optional `delivery_lat`/`delivery_lon`); the import writes
them as `addresses` rows with the match key the fraud signals use (`agentflows.addresses`) and
coordinates from the offline gazetteer when the export has none (`places.py`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from agentflows.addresses import normalize_address
from agentflows.db.fraud import (
    Claim,
    ClaimKind,
    Customer,
    KnownFraudAddress,
    Order,
    OrderReturn,
    PaymentIncident,
    PaymentIncidentKind,
    ShipmentEvent,
    ShipmentEventKind,
)
from agentflows.importing.places import coordinates
from agentflows.importing.tables import ImportRow, TableSpec, _utc, _vocabulary, normalize_email

Money = Field(default=Decimal(0), ge=0, max_digits=12, decimal_places=2)


def _country(value: Any) -> str:
    code = str(value).strip().upper()
    if len(code) != 2 or not code.isalpha():
        raise ValueError(f"{value!r} is not a two-letter country code (ISO 3166, e.g. DE, GB, US)")
    return code


def _place(row: Any, prefix: str) -> dict[str, Any] | None:
    """The `addresses` row for one inline address, or None when the row has none."""
    line1 = getattr(row, f"{prefix}_line1", None)
    if line1 is None:
        return None
    country = getattr(row, f"{prefix}_country", None) or row.country  # a customer's home: their own country
    postcode = getattr(row, f"{prefix}_postcode") or ""
    lat, lon = getattr(row, f"{prefix}_lat"), getattr(row, f"{prefix}_lon")
    return {
        "line1": line1,
        "city": getattr(row, f"{prefix}_city"),
        "postcode": postcode,
        "country": country,
        "lat": lat,
        "lon": lon,
        "normalized": normalize_address(line1, postcode, country),
    }


class _Located(ImportRow):
    """Rows with inline addresses: a city the gazetteer does not know needs lat/lon columns."""

    @model_validator(mode="after")
    def _coordinates(self) -> _Located:
        for prefix in {n.rsplit("_", 1)[0] for n in type(self).model_fields if n.endswith("_line1")}:
            if getattr(self, f"{prefix}_line1") is None or getattr(self, f"{prefix}_lat") is not None:
                continue
            city = getattr(self, f"{prefix}_city")
            country = getattr(self, f"{prefix}_country", None) or getattr(self, "country", "")
            found = coordinates(city or "", country or "")
            if found is None:
                raise ValueError(
                    f"{prefix}_city {city!r} ({country}) is not in the offline gazetteer: "
                    f"map {prefix}_lat and {prefix}_lon columns for it"
                )
            setattr(self, f"{prefix}_lat", found[0])
            setattr(self, f"{prefix}_lon", found[1])
        return self


class CustomerRow(_Located):
    email: str = Field(max_length=254)
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(default="", max_length=100)
    country: str
    signup_at: datetime
    lifetime_gmv: Decimal = Money
    home_line1: str | None = Field(default=None, max_length=200)
    home_city: str | None = Field(default=None, max_length=100)
    home_postcode: str | None = Field(default=None, max_length=20)
    home_lat: float | None = None
    home_lon: float | None = None

    _email = field_validator("email", mode="before")(lambda v: normalize_email(str(v)))
    _cc = field_validator("country", mode="before")(_country)
    _when = field_validator("signup_at", mode="after")(lambda v: _utc(v))

    def columns(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude=MARKETPLACE_TABLES["customers"].address_columns())


def _luhn(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _card_ref(value: Any) -> str | None:
    """A card's token or fingerprint from the payment processor; a card number is refused, never stored."""
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    digits = "".join(c for c in text if c.isdigit())
    if len(digits) >= 13 and len(digits) == len(text.replace(" ", "").replace("-", "")) and _luhn(digits):
        raise ValueError(
            "looks like a card number; map the payment processor's card token or fingerprint instead "
            "(card numbers must never leave the payment system)"
        )
    return text


class OrderRow(_Located):
    customer: str = Field(min_length=1)
    placed_at: datetime
    amount: Decimal = Money
    items: int = Field(default=1, ge=1)
    delivery_line1: str = Field(max_length=200)
    delivery_city: str = Field(max_length=100)
    delivery_postcode: str = Field(default="", max_length=20)
    delivery_country: str
    delivery_lat: float | None = None
    delivery_lon: float | None = None
    card_country: str
    card_ref: str | None = Field(default=None, max_length=64)
    carrier: str = Field(default="", max_length=40)

    _cc = field_validator("delivery_country", "card_country", mode="before")(_country)
    _card = field_validator("card_ref", mode="before")(_card_ref)
    _when = field_validator("placed_at", mode="after")(lambda v: _utc(v))

    def columns(self) -> dict[str, Any]:
        exclude = {"customer"} | MARKETPLACE_TABLES["orders"].address_columns()
        return self.model_dump(exclude_none=True, exclude=exclude)


class ReturnRow(_Located):
    order: str = Field(min_length=1)
    created_at: datetime
    return_line1: str = Field(max_length=200)
    return_city: str = Field(max_length=100)
    return_postcode: str = Field(default="", max_length=20)
    return_country: str
    return_lat: float | None = None
    return_lon: float | None = None

    _cc = field_validator("return_country", mode="before")(_country)
    _when = field_validator("created_at", mode="after")(lambda v: _utc(v))

    def columns(self) -> dict[str, Any]:
        exclude = {"order"} | MARKETPLACE_TABLES["order_returns"].address_columns()
        return self.model_dump(exclude_none=True, exclude=exclude)


class ShipmentEventRow(ImportRow):
    order: str = Field(min_length=1)
    carrier: str = Field(default="", max_length=40)
    kind: ShipmentEventKind
    occurred_at: datetime
    location: str = Field(default="", max_length=120)

    _when = field_validator("occurred_at", mode="after")(lambda v: _utc(v))

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any, info: ValidationInfo) -> Any:
        return _vocabulary(value, info, ShipmentEventKind)

    def columns(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude={"order"})


class PaymentIncidentRow(ImportRow):
    customer: str = Field(min_length=1)
    order: str | None = None
    kind: PaymentIncidentKind
    occurred_at: datetime
    amount: Decimal = Money
    card_country: str = ""

    _when = field_validator("occurred_at", mode="after")(lambda v: _utc(v))
    _cc = field_validator("card_country", mode="before")(lambda v: _country(v) if str(v).strip() else "")

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any, info: ValidationInfo) -> Any:
        return _vocabulary(value, info, PaymentIncidentKind)

    def columns(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude={"customer", "order"})


class ClaimRow(ImportRow):
    order: str = Field(min_length=1)
    customer: str = Field(min_length=1)
    kind: ClaimKind
    message: str = ""  # the customer's own words: stored as data, never read as instructions
    amount_claimed: Decimal = Money
    opened_at: datetime

    _when = field_validator("opened_at", mode="after")(lambda v: _utc(v))

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any, info: ValidationInfo) -> Any:
        return _vocabulary(value, info, ClaimKind)

    def columns(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude={"order", "customer"})


class KnownFraudAddressRow(ImportRow):
    line1: str = Field(min_length=1, max_length=200)
    city: str = Field(default="", max_length=100)
    postcode: str = Field(default="", max_length=20)
    country: str
    source: str = Field(default="", max_length=200)

    _cc = field_validator("country", mode="before")(_country)

    @property
    def normalized(self) -> str:
        return normalize_address(self.line1, self.postcode, self.country)

    def columns(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True) | {"normalized": self.normalized}


MARKETPLACE_TABLES: dict[str, TableSpec] = {
    "customers": TableSpec("customers", CustomerRow, Customer, unique="email", addresses={"home_address_id": "home"}),
    "orders": TableSpec(
        "orders", OrderRow, Order, {"customer": "customers"}, addresses={"delivery_address_id": "delivery"}
    ),
    "order_returns": TableSpec(
        "order_returns", ReturnRow, OrderReturn, {"order": "orders"}, addresses={"return_address_id": "return"}
    ),
    "shipment_events": TableSpec("shipment_events", ShipmentEventRow, ShipmentEvent, {"order": "orders"}),
    "payment_incidents": TableSpec(
        "payment_incidents", PaymentIncidentRow, PaymentIncident, {"customer": "customers", "order": "orders"}
    ),
    "claims": TableSpec("claims", ClaimRow, Claim, {"order": "orders", "customer": "customers"}),
    "known_fraud_addresses": TableSpec(
        "known_fraud_addresses", KnownFraudAddressRow, KnownFraudAddress, unique="normalized"
    ),
}
"""In dependency order: a table only refers to tables before it."""


def address_values(spec: TableSpec, row: ImportRow) -> dict[str, dict[str, Any] | None]:
    """Per address id column of `spec`, the `addresses` row the import row describes (None: none given)."""
    return {column: _place(row, prefix) for column, prefix in spec.addresses.items()}
