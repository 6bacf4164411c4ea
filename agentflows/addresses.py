"""Address match keys and "same door" matching: the normalisation the seed, imports and the address signal share.

It lives in the core package because the seed (`agentflows.seed`), imports and the address signal
(`tasks.fraud.address`) store or compare these keys, and the core must not import `tasks/`.

Why normalisation plus rapidfuzz and no address parser: the maintained international parser
(libpostal, Python `postal`) needs about 2 GB of models downloaded at run time, which this project
cannot require; `usaddress` covers US addresses only. A key ignores case, accents, punctuation,
`Street`/`St.`/`Str`-style abbreviations and word order, and keeps a flat number as one token
(`apt4`), so one door written several ways gives one key, and a flat added or left out is
recognised as the same door by `same_door` rather than read as another house number.
"""

from __future__ import annotations

import re
import unicodedata

_ABBREVIATIONS = {
    "street": "st",
    "str": "st",
    "strasse": "st",
    "stree": "st",
    "road": "rd",
    "avenue": "ave",
    "av": "ave",
    "lane": "ln",
    "drive": "dr",
    "place": "pl",
    "plc": "pl",
    "square": "sq",
    "court": "ct",
    "crescent": "cres",
    "terrace": "ter",
    "boulevard": "blvd",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "no": "",
    "number": "",
    "nr": "",
}
_FLAT_WORDS = {"apartment", "apt", "flat", "unit", "suite", "ste", "floor", "fl", "appt", "wohnung"}
_NUMBERS = re.compile(r"\d+[a-z]?")
_FLAT = re.compile(r"^apt(\w+)$")


def fold(text: str) -> str:
    """Lower case without accents: `Müllerstraße` -> `mullerstrasse`, `Rue Molière` -> `rue moliere`."""
    text = text.replace("ß", "ss").replace("ẞ", "ss")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def compact_postcode(postcode: str) -> str:
    return re.sub(r"[^a-z0-9]", "", fold(postcode))


def normalize_address(line1: str, postcode: str, country: str) -> str:
    """The match key of an address: folded, standard abbreviations, flat as `apt<n>`, words sorted, compact postcode.

    Sorting the words makes `Apt 4, 12 Baker Street` and `12 Baker St. Flat 4` the same key.
    """
    text = fold(line1).replace("#", " apt ")
    text = re.sub(r"(\d+)\s*/\s*(\d+)", r"\1 apt \2", text)  # 12/4 Baker St: house 12, flat 4
    words = [_ABBREVIATIONS.get(w, w) for w in re.findall(r"[a-z0-9]+", text)]
    words = [re.sub(r"(strasse|str)$", " st", w).strip() if len(w) > 6 else w for w in words]
    out: list[str] = []
    flat_next = False
    for word in " ".join(words).split():
        if word in _FLAT_WORDS:
            flat_next = True
            continue
        if flat_next and _NUMBERS.fullmatch(word):
            out.append(f"apt{word}")
        elif word:
            out.append(word)
        flat_next = False
    return " ".join([*sorted(out), compact_postcode(postcode), country.lower()])


def house_numbers(normalized: str) -> tuple[str, ...]:
    """The numbers in an address key outside its flat (house, postcode digits), sorted."""
    return tuple(sorted(n for w in normalized.split() if not _FLAT.match(w) for n in _NUMBERS.findall(w)))


def flat_of(normalized: str) -> str | None:
    """The flat number of an address key, if it names one."""
    for word in normalized.split():
        found = _FLAT.match(word)
        if found:
            return found[1]
    return None


def street_part(normalized: str) -> str:
    """The key without its flat token: what fuzzy matching compares (a flat added must not lower the score)."""
    return " ".join(w for w in normalized.split() if not _FLAT.match(w))


def same_door(a: str, b: str) -> bool:
    """Same house numbers and postcode digits, and the same flat or a flat on one side only.

    A neighbour (another house number) never matches; neither does another flat of the same house.
    """
    if house_numbers(a) != house_numbers(b):
        return False
    fa, fb = flat_of(a), flat_of(b)
    return fa is None or fb is None or fa == fb
