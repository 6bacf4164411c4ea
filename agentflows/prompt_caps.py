"""Caps on untrusted text before it reaches a prompt, with the cut marked in the data itself.

A claim message, a CRM note, a form field or a knowledge section can be any size: an attacker (or an
accident) with a 350 KB message would otherwise put about 90,000 tokens into each of the seven fraud agents'
prompts. Each field gets a cap from the settings (`prompt_cap_*`), applied at the one place that field is
put into an agent's input, and a cut field ends in a marker the model reads as part of the data, so it
knows it saw only the start: `… [truncated: 350,112 characters, first 4,000 shown]`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

MARK = "… [truncated: {total:,} characters, first {kept:,} shown]"


_MARKED = re.compile(r" … \[truncated: [\d,]+ characters, first ([\d,]+) shown\]\Z")


def capped(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its first `limit` characters and the marker.

    Idempotent: a text already cut to `limit` or less keeps its marker (and its original size) as it is.
    """
    if len(text) <= limit:
        return text
    marked = _MARKED.search(text)
    if marked is not None and int(marked[1].replace(",", "")) <= limit:
        return text
    return f"{text[:limit]} {MARK.format(total=len(text), kept=limit)}"


def is_capped(text: str) -> bool:
    """Whether `capped` cut this text (the marker is its last part)."""
    return _MARKED.search(text) is not None


def capped_fields(model: M, limits: Mapping[str, int]) -> M:
    """A copy of `model` with each named string field capped (fields that fit are kept as they are)."""
    update = {
        name: capped(value, limit)
        for name, limit in limits.items()
        if isinstance(value := getattr(model, name), str) and len(value) > limit
    }
    return model.model_copy(update=update) if update else model


def capped_each(items: list[M], limits: Mapping[str, int]) -> list[M]:
    """`capped_fields` over a list of models."""
    return [capped_fields(item, limits) for item in items]


def estimate_tokens(*texts: str) -> int:
    """A rough token count of prompt text: 4 characters a token (the budget's look-ahead uses the same).

    Not tiktoken (installed, but only for OpenAI's encodings): the estimate must cover Anthropic and
    compatible servers too, and a look-ahead needs to be right within a factor, not exact.
    """
    return sum(len(t) for t in texts) // 4 + 1
