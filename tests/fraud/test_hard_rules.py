"""The model proposes, the rules decide: a high-risk case is never cleared, a block needs the rules."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from agents.fraud import orchestrator
from agents.fraud.models import Signal
from agents.fraud.rules import Calibration, bound
from tasks.fraud.agents import judge
from tasks.fraud.batch import verdicts_batch
from tasks.fraud.cases import load_case_sync
from tasks.fraud.risk import load_calibration


def insisting_on(decision: str) -> FunctionModel:
    """A model that always proposes `decision` with a low risk, whatever the evidence says."""

    def respond(_messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        args = {"risk_score": 0.01, "decision": decision, "rationale": f"I am sure: {decision}.", "evidence_refs": []}
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, json.dumps(args))])

    return FunctionModel(respond, model_name=f"insists-{decision}")


def signals(*scores: float, failed: int = 0) -> list[Signal]:
    names = ["address", "return_distance", "customer", "tracking", "payment", "conversation"]
    out = [Signal(name=n, score=s, rule_score=s, summary="x") for n, s in zip(names, scores, strict=False)]
    for i in range(failed):
        out[i] = out[i].model_copy(update={"status": "failed", "error": "boom"})
    return out


CAL = Calibration(weights={}, bias=0, review_threshold=0.3, block_threshold=0.95)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("proposed", "risk", "sigs", "expected", "rule"),
    [
        ("clear", 0.31, signals(0.9, 0, 0, 0, 0, 0), "review", "rule 2"),
        ("clear", 0.05, signals(0.1, 0, 0, 0, 0, 0, failed=1), "review", "rule 1"),
        ("block", 0.99, signals(0.9, 0.9, 0, 0, 0, 0), "review", "rule 3"),  # only two strong signals
        ("block", 0.50, signals(0.9, 0.9, 0.9, 0, 0, 0), "review", "rule 3"),  # risk below block threshold
        ("block", 0.99, signals(0.9, 0.9, 0.9, 0, 0, 0), "block", "kept"),
        ("review", 0.01, signals(0, 0, 0, 0, 0, 0), "review", "kept"),  # more caution is always allowed
        ("clear", 0.29, signals(0.2, 0, 0, 0, 0, 0), "clear", "kept"),
    ],
)
def test_bound(proposed: str, risk: float, sigs: list[Signal], expected: str, rule: str) -> None:
    decision, why = bound(proposed, risk, sigs, CAL)  # type: ignore[arg-type]
    assert decision == expected
    assert rule in why


def test_a_model_insisting_on_clear_cannot_clear_a_high_risk_case(
    market_db: str, template_dir, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """The full judge step with a FunctionModel that always answers `clear`, on seeded fraud cases."""
    from tasks.fraud.evaluation import labelled

    labels = labelled("all")
    frauds = [c for c, (fraud, _) in labels.items() if fraud][:40]
    batch = verdicts_batch(frauds)
    risky = [c for c in frauds if batch[c].risk >= load_calibration().review_threshold][:3]
    assert len(risky) == 3

    monkeypatch.setattr(
        orchestrator, "orchestrator", lambda *_args: orchestrator.orchestrator_agent(insisting_on("clear"))
    )
    for case in risky:
        claim = load_case_sync(case)
        verdict = asyncio.run(judge(claim, list(batch[case].signals.values()), None))
        assert verdict.proposal.decision == "clear", "the model did insist"
        assert verdict.decision in ("review", "block") and verdict.decision != "clear"
        assert verdict.rule.startswith("rule 2"), verdict.rule


def test_a_model_insisting_on_block_cannot_block_a_benign_case(
    market_db: str, template_dir, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from tasks.fraud.evaluation import labelled

    benign = [c for c, (fraud, pattern) in labelled("all").items() if pattern == "benign"][:5]
    batch = verdicts_batch(benign)
    monkeypatch.setattr(
        orchestrator, "orchestrator", lambda *_args: orchestrator.orchestrator_agent(insisting_on("block"))
    )
    for case in benign:
        verdict = asyncio.run(judge(load_case_sync(case), list(batch[case].signals.values()), None))
        assert verdict.proposal.decision == "block"
        assert verdict.decision == "review" and verdict.rule.startswith("rule 3")
