"""Address match keys: the normalisation the seeded data and the address signal must share.

It lives in the core package because both the seed (`agentflows.seed`) and the address signal
(`tasks.fraud.address`) store or compare these keys, and the core must not import `tasks/`. A key
ignores case, punctuation, `Street`/`St.`/`Str`, `Flat`/`Apt`/`#` and word order, so one door
written three ways gives one key.
"""

from __future__ import annotations

import re

_ABBREVIATIONS = {
    "street": "st",
    "str": "st",
    "road": "rd",
    "avenue": "ave",
    "av": "ave",
    "lane": "ln",
    "drive": "dr",
    "place": "pl",
    "boulevard": "blvd",
    "apartment": "apt",
    "flat": "apt",
    "unit": "apt",
    "suite": "apt",
    "no": "",
    "number": "",
}
_NUMBERS = re.compile(r"\d+[a-z]?")


def normalize_address(line1: str, postcode: str, country: str) -> str:
    """The match key of an address: standard abbreviations, words sorted, compact postcode.

    Sorting the words makes `Apt 4, 12 Baker Street` and `12 Baker St. Flat 4` the same key.
    """
    text = line1.lower().replace("#", " apt ")
    words = sorted(w for w in (_ABBREVIATIONS.get(w, w) for w in re.findall(r"[a-z0-9]+", text)) if w)
    postcode = re.sub(r"[^a-z0-9]", "", postcode.lower())
    return " ".join([*words, postcode, country.lower()])


def house_numbers(normalized: str) -> tuple[str, ...]:
    """The numbers in an address key, sorted (house, flat, postcode digits): equal for the same door."""
    return tuple(sorted(_NUMBERS.findall(normalized)))
