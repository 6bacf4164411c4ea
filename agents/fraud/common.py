"""What the six signal agents share: instructions, the output check, and how suspicion combines.

Every signal agent reads one signal's facts (computed from SQL, never by the model), the
deterministic rule's score and summary, and answers with a `SignalReport`. Its evidence may cite
only row references present in the facts: an invented reference goes back to the model with the
list of valid ones (`ModelRetry`), so each line an analyst reads traces to a real row.

What each agent is told about its own signal, its model and settings come from its workspace file
(`agents/fraud-signal-<signal>.yaml`, an `AgentFile`); `COMMON` (the task every signal agent shares,
and what its answer must look like) and the output type stay in code, because they are the
contract the flow relies on.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic_ai import Agent, ModelRetry, RunContext
from pydantic_ai.models import Model

from agentflows.workspace import shipped_snapshot
from agents.durable import durable_agent
from agents.fraud.models import SignalReport
from agents.workspace.agent_files import AgentFile, parse_agent_file

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


@cache
def shipped_agent_file(name: str) -> AgentFile:
    """The shipped `agents/<name>.yaml`: for callers outside a run (tests building an agent on a test model)."""
    snapshot = shipped_snapshot()
    path = f"agents/{name}.yaml"
    return parse_agent_file(path, snapshot.text(path), dict(snapshot.files), snapshot.version(path))


def signal_agent(file: AgentFile, model: Model | str) -> Agent[tuple[str, ...], SignalReport]:
    """A durable signal agent configured by its workspace file, whose evidence must cite refs from its facts."""
    agent: Agent[Any, SignalReport] = durable_agent(
        name=file.name,
        model=model,
        output_type=SignalReport,
        instructions=f"{COMMON}\n{file.instructions}",
        deps_type=tuple,
        model_settings=file.settings_dict,
        output_retries=file.output_retries,
    )

    @agent.output_validator
    def _cites_known_rows(ctx: RunContext[tuple[str, ...]], report: SignalReport) -> SignalReport:
        unknown = sorted({e.ref for e in report.evidence} - set(ctx.deps))
        if unknown:
            raise ModelRetry(f"evidence cites refs not in the facts: {unknown}; use only: {sorted(ctx.deps)}")
        return report

    return agent
