"""The words of the seeded marketplace: street names, claim messages, and how messages are written.

Kept apart from the patterns and the builder because it is data, not logic: the tables are long,
change for other reasons (more wording, other languages) and are read by several patterns. The
two writers take the builder's random generator, so a message costs the same draws wherever it is
written. Changing a table or a writer changes the seeded data (see `builder.py`).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping

from agentflows.fraud_templates import FraudTemplate

STREETS = [
    "Baker",
    "Maple",
    "Oak",
    "Pine",
    "Cedar",
    "Elm",
    "Birch",
    "Willow",
    "Chestnut",
    "Cherry",
    "Station",
    "Church",
    "Mill",
    "Park",
    "High",
    "Market",
    "Bridge",
    "Victoria",
    "Albert",
    "King",
    "Queen",
    "Castle",
    "Garden",
    "Lake",
    "River",
    "Hill",
    "Forest",
    "Meadow",
    "Orchard",
    "Harbour",
    "Canal",
    "Spring",
    "Sunset",
    "Highland",
    "Windsor",
    "Hamilton",
    "Lincoln",
    "Franklin",
    "Washington",
    "Jefferson",
    "Madison",
    "Cambridge",
    "Oxford",
    "Chapel",
    "Abbey",
    "Grove",
    "Linden",
    "Poplar",
    "Ash",
    "Beech",
    "Holly",
    "Rose",
    "Lily",
    "Tulip",
    "Daisy",
    "Violet",
    "Ivy",
    "Laurel",
    "Magnolia",
    "Juniper",
    "Aspen",
    "Hazel",
    "Rowan",
]
SUFFIXES = ("Street", "Road", "Avenue", "Lane", "Drive", "Way", "Place")

BENIGN_TEXT = {
    "not_received": (
        ("Hi,", "Hello,", "Good morning,", "Hi there,", ""),
        (
            "my order hasn't shown up yet",
            "the parcel still hasn't arrived",
            "I'm still waiting for my package",
            "tracking hasn't updated in days and nothing came",
            "the courier site says it is on its way but it has been two weeks",
            "I can't find the parcel anywhere, maybe it went to a neighbour",
            "the parcel isn't here and the app says it was handed over",
        ),
        (
            "I asked my neighbours and the building reception.",
            "I was home all day on the delivery date.",
            "It was a birthday present so I'm a bit worried.",
            "Could it have been left somewhere else?",
            "",
        ),
        (
            "Could you look into it?",
            "Can you check with the courier please?",
            "Would it be possible to send a replacement?",
            "Please let me know what I should do.",
            "Thanks for your help.",
        ),
    ),
    "arrived_broken": (
        ("Hi,", "Hello,", "Dear support,", ""),
        (
            "the lamp arrived with a cracked base",
            "one of the glasses was broken in the box",
            "the screen has a scratch right across it",
            "the handle snapped off the first time I used it",
            "the packaging was crushed and the item is dented",
            "the zip came off on the first day",
        ),
        (
            "I've attached photos of the damage.",
            "I kept the original packaging.",
            "Photos attached, happy to send more.",
            "The outer box looked fine, so it must have happened in the warehouse.",
            "",
        ),
        (
            "Could I get a replacement?",
            "I'd like to return it for a refund.",
            "What's the best way to send it back?",
            "A partial refund would also be fine.",
        ),
    ),
    "refund_request": (
        ("Hi,", "Hello,", "Hi team,", ""),
        (
            "it doesn't fit as I hoped",
            "the colour is different from the photos",
            "I ordered two by mistake",
            "it's not quite what I expected",
            "I changed my mind about the size",
        ),
        (
            "I sent it back with the prepaid label.",
            "It's unused and in the original box.",
            "The return was dropped off at the post office.",
            "",
        ),
        ("Could you process the refund?", "When can I expect my refund?", "Thanks in advance."),
    ),
}
TEMPLATE_LIKE_TEXT = (
    "My package never arrived even though tracking says delivered. Could you please check with the courier? "
    "A replacement would be great, or a refund if that is easier.",
    "The box arrived damaged and the item inside is broken. I attached photos. Could I get a replacement or refund?",
    "I did not receive my parcel, the tracking says delivered but nothing was at my door. Can you help me with this?",
    "The item arrived broken, I would like a refund please. I can send it back and I have photos of the box.",
    "I never received my order. Please can you refund me or send it again? I checked with all my neighbours.",
)
FRAUD_PLAIN_TEXT = (
    "Order never came. Sort it out.",
    "Not received. Refund please.",
    "Item was broken, refund me.",
    "I want a refund for this order, it is not ok.",
    "Nothing arrived, send the money back.",
)
ANGRY_HONEST_TEXT = (  # honest customers at the end of their patience: loud, but no script
    "This is the third time I write. The parcel NEVER came and nobody answers. I have been a customer for years.",
    "Absolutely unacceptable. The lamp came in pieces, the box was crushed flat. Fix this or I shop elsewhere.",
    "I am furious. Tracking says delivered, I was home all day, nobody rang. Where is my order?",
    "Your courier left the parcel in the rain and everything inside is ruined. I want my money back today.",
    "Two weeks waiting and still nothing. I need this for a birthday on Saturday. Please do something now!",
    "The wrong size arrived AGAIN. I am tired of paying postage for your mistakes. Refund the return, please.",
)
SYNONYMS = {
    "immediately": "right now",
    "parcel": "package",
    "package": "parcel",
    "completely": "totally",
    "item": "product",
    "courier": "driver",
    "demand": "want",
    "full": "whole",
    "today": "asap",
}


def benign_text(rng: random.Random, kind: str) -> str:
    """An honest customer's message for a claim of this kind: opening, problem, context, ask."""
    opening, problem, context, ask = BENIGN_TEXT[kind]
    parts = [
        rng.choice(opening),
        rng.choice(problem).capitalize() + ".",
        rng.choice(context),
        rng.choice(ask),
    ]
    return " ".join(p for p in parts if p)


def fraud_text(
    rng: random.Random, templates: Mapping[str, FraudTemplate], names: tuple[str, ...], order_id: int
) -> str:
    """A template example as a fraudster would reuse it: sentences dropped, words swapped, ids added."""
    example = rng.choice(templates[rng.choice(names)].examples)
    sentences = re.split(r"(?<=[.!?])\s+", example)
    if len(sentences) > 2 and rng.random() < 0.4:
        sentences.pop(rng.randrange(1, len(sentences)))
    words = " ".join(sentences).split()
    words = [SYNONYMS.get(w.lower(), w) if rng.random() < 0.35 else w for w in words]
    text = " ".join(words)
    if rng.random() < 0.5:
        text = f"Order #{100000 + order_id}. {text}"
    return text.lower() if rng.random() < 0.25 else text
