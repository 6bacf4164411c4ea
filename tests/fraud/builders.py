"""Hand-built marketplace rows for signal tests: each method inserts one row and returns its id.

Times are given in days before `NOW`, coordinates default to central London, and everything is
committed at once so a test reads exactly what it built.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agentflows.addresses import normalize_address
from agentflows.db import session_scope
from agentflows.db.fraud import (
    Address,
    Claim,
    Customer,
    KnownFraudAddress,
    Order,
    OrderReturn,
    PaymentIncident,
    ShipmentEvent,
)

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
LONDON = (51.5074, -0.1278)
MANCHESTER = (53.4808, -2.2426)
MADRID = (40.4168, -3.7038)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


class Shop:
    def __init__(self) -> None:
        self._n = 0

    def _add(self, row):  # type: ignore[no-untyped-def]
        with session_scope() as session:
            session.add(row)
            session.flush()
            return row.id

    def address(
        self,
        line1: str,
        postcode: str = "NW1 6XE",
        city: str = "London",
        country: str = "GB",
        at: tuple[float, float] = LONDON,
        customer: int | None = None,
    ) -> int:
        return self._add(
            Address(
                customer_id=customer,
                line1=line1,
                city=city,
                postcode=postcode,
                country=country,
                lat=at[0],
                lon=at[1],
                normalized=normalize_address(line1, postcode, country),
                created_at=ago(900),
            )
        )

    def customer(
        self,
        last_name: str = "Smith",
        signup_days: float = 1500,
        country: str = "GB",
        home: int | None = None,
        gmv: float = 500.0,
    ) -> int:
        self._n += 1
        return self._add(
            Customer(
                email=f"c{self._n}.{last_name.lower()}@test.example",
                first_name="Alex",
                last_name=last_name,
                country=country,
                signup_at=ago(signup_days),
                lifetime_gmv=gmv,
                home_address_id=home,
            )
        )

    def order(
        self,
        customer: int,
        address: int,
        days: float = 30,
        amount: float = 50.0,
        card_country: str = "GB",
        scans: tuple[str, ...] = ("shipped", "delivered"),
        card_ref: str | None = None,
    ) -> int:
        oid = self._add(
            Order(
                customer_id=customer,
                placed_at=ago(days),
                amount=amount,
                items=1,
                delivery_address_id=address,
                card_country=card_country,
                card_ref=card_ref,
                carrier="Royal Mail",
            )
        )
        for i, kind in enumerate(scans):
            self._add(
                ShipmentEvent(
                    order_id=oid,
                    carrier="Royal Mail",
                    kind=kind,
                    occurred_at=ago(days - 1 - i),
                    location="London" if kind == "delivered" else "",
                )
            )
        return oid

    def claim(
        self, order: int, kind: str = "not_received", message: str = "Hi, my parcel has not arrived.", days: float = 20
    ) -> int:
        with session_scope() as session:
            o = session.get(Order, order)
            assert o is not None
            customer, amount = o.customer_id, float(o.amount)
        return self._add(
            Claim(
                order_id=order,
                customer_id=customer,
                kind=kind,
                message=message,
                amount_claimed=amount,
                opened_at=ago(days),
            )
        )

    def returned(self, order: int, address: int, days: float = 15) -> int:
        return self._add(OrderReturn(order_id=order, return_address_id=address, created_at=ago(days)))

    def incident(self, customer: int, kind: str, days: float, card_country: str = "", order: int | None = None) -> int:
        return self._add(
            PaymentIncident(
                customer_id=customer,
                order_id=order,
                kind=kind,
                occurred_at=ago(days),
                amount=100,
                card_country=card_country,
            )
        )

    def fraud_address(self, line1: str, postcode: str = "NW1 6XE", city: str = "London", country: str = "GB") -> int:
        return self._add(
            KnownFraudAddress(
                line1=line1,
                city=city,
                postcode=postcode,
                country=country,
                normalized=normalize_address(line1, postcode, country),
                source="test",
            )
        )
