"""What the six signal agents share: instructions, the output check, and how suspicion combines.

Every signal agent reads one signal's facts (computed from SQL, never by the model), the
deterministic rule's score and summary, and answers with a `SignalReport`. Its evidence may cite
only row references present in the facts: an invented reference goes back to the model with the
list of valid ones (`ModelRetry`), so each line an analyst reads traces to a real row.
"""

from __future__ import annotations

from typing import Any

from pydantic_ai import Agent, ModelRetry, RunContext
from pydantic_ai.models import Model

from agents.durable import durable_agent
from agents.fraud.models import SignalReport

COMMON = """
You check one fraud signal of a marketplace claim (a customer says an item was not received,
arrived broken, or asks for a refund). The data holds the claim, the facts computed for your signal
from the database, and a deterministic rule's score and summary. Judge how suspicious this one
signal is (score 0 = nothing unusual, 1 = clearly fraudulent on this signal alone), list the evidence
rows you rely on using only the `ref` values that appear in the facts (claim:N, order:N, address:N,
...), and write one line an analyst can read. Stay close to the rule's score unless the facts
clearly justify more or less, and say why when you depart from it. Benign explanations exist for
every single signal; say so when they fit.
"""


def noisy_or(*scores: float) -> float:
    """Combine independent pieces of suspicion: 1 - prod(1 - s); never below the largest one."""
    remaining = 1.0
    for s in scores:
        remaining *= 1.0 - min(max(s, 0.0), 1.0)
    return round(1.0 - remaining, 4)


def plural(count: int, noun: str) -> str:
    """`1 chargeback`, `2 chargebacks`: summaries are read by people."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def signal_agent(name: str, model: Model | str, instructions: str) -> Agent[frozenset[str], SignalReport]:
    """A durable signal agent whose evidence must cite refs from its facts (the deps)."""
    agent: Agent[Any, SignalReport] = durable_agent(
        name=name,
        model=model,
        output_type=SignalReport,
        instructions=f"{COMMON}\n{instructions}",
        deps_type=frozenset,
    )

    @agent.output_validator
    def _cites_known_rows(ctx: RunContext[frozenset[str]], report: SignalReport) -> SignalReport:
        unknown = sorted({e.ref for e in report.evidence} - ctx.deps)
        if unknown:
            raise ModelRetry(f"evidence cites refs not in the facts: {unknown}; use only: {sorted(ctx.deps)}")
        return report

    return agent
