"""The fraud part of the workspace: rules.yaml and its hard rules, templates and agent files from the
run's snapshot, the comparison a reviewer reads, and the known-fraud-address rule end to end."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from sqlalchemy import select

from agentflows.db import session_scope
from agentflows.db.fraud import Address, CheckStatus, Claim, KnownFraudAddress, Order
from agentflows.workspace import Snapshot, shipped_snapshot
from agents.fraud.config import RULES_PATH, parse_rules, with_fitted_values
from agents.fraud.models import ClaimSummary, Signal
from agents.fraud.rules import CaseFields, bound
from agents.workspace import Workspace, check, load_workspace
from tests.fraud.builders import Shop
from tests.fraud.test_templates import MESSAGE, NEW_TACTIC

SHIPPED_RULES = shipped_snapshot().text(RULES_PATH)


def shipped_line(key: str) -> str:
    """The shipped rules.yaml line that sets `key` (the values change with every refit; the tests do not)."""
    match = re.search(rf"^ *{key}: \S+$", SHIPPED_RULES, re.M)
    assert match, f"no `{key}:` line in the shipped rules.yaml"
    return match.group(0)


REVIEW_LINE, BLOCK_LINE = shipped_line("review_threshold"), shipped_line("block_threshold")
BIAS_LINE = shipped_line("bias")
CONVERSATION_LINE = shipped_line("conversation")
SHIPPED_REVIEW, SHIPPED_BLOCK = REVIEW_LINE.split(": ")[1], BLOCK_LINE.split(": ")[1]
RULE_CONDITION = "    when:\n      address_on_fraud_list: true"  # the shipped hard rule's condition, as written


def condition(text: str) -> str:
    """The shipped hard rule's `when:` with another condition (or several, one per line)."""
    return "    when:\n" + "\n".join(f"      {line}" for line in text.split("\n"))


def line_of_text(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.split("\n"), start=1) if needle in line)


def with_files(files: dict[str, str]) -> Snapshot:
    """The shipped workspace with some files replaced or added."""
    return Snapshot(dict(shipped_snapshot().files) | files)


def rules_problems(text: str) -> list[str]:
    return [str(p) for p in check(with_files({RULES_PATH: text}))]


def workspace_with_rules(text: str) -> Workspace:
    return load_workspace(with_files({RULES_PATH: text}))


# --- check: what a broken rules.yaml or template says -------------------------------------------------


def test_the_shipped_workspace_passes_and_carries_the_known_fraud_address_rule() -> None:
    workspace = load_workspace(shipped_snapshot())
    [rule] = workspace.fraud.calibration.hard_rules
    assert (rule.name, rule.at_least, rule.conditions) == (
        "known-fraud-address",
        "review",
        "address_on_fraud_list: true",
    )
    assert len(workspace.fraud.templates.templates) == 6 and not workspace.fraud.templates.problems


def test_broken_yaml_in_rules_is_refused_with_its_line() -> None:
    line = line_of_text(SHIPPED_RULES, "bias:")
    broken = SHIPPED_RULES.replace(BIAS_LINE, f"{BIAS_LINE}: oops")
    assert rules_problems(broken) == [
        f"fraud/rules.yaml:{line}: YAML does not parse: mapping values are not allowed here"
    ]


def test_a_rule_on_an_unknown_field_is_refused_with_its_line() -> None:
    text = SHIPPED_RULES.replace(RULE_CONDITION, condition("address_on_blacklist: true"))
    [problem] = rules_problems(text)
    assert problem.startswith(f"fraud/rules.yaml:{line_of_text(text, 'address_on_blacklist')}: unknown field")
    assert "`address_on_blacklist`" in problem and "address_on_fraud_list" in problem, "it lists the known fields"


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        (
            CONVERSATION_LINE,
            CONVERSATION_LINE.replace("conversation", "conversatoin"),
            "conversatoin",
            "unknown signal `conversatoin` in weights",
        ),
        (RULE_CONDITION, condition("signal_at_least: {adress: 0.8}"), "adress", "unknown signal `adress`"),
    ],
)
def test_an_unknown_signal_is_refused_with_its_line(old: str, new: str, needle: str, message: str) -> None:
    text = SHIPPED_RULES.replace(old, new)
    problems = rules_problems(text)
    assert f"fraud/rules.yaml:{line_of_text(text, needle)}: {message}" in "\n".join(problems), problems


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (RULE_CONDITION, condition("address_on_fraud_list: 'yes'"), "`address_on_fraud_list` must be true or false"),
        (RULE_CONDITION, condition("claim_amount_over: lots"), "`claim_amount_over` must be a number >= 0"),
        (RULE_CONDITION, condition("claim_kind: [stolen]"), "`claim_kind` must be a list drawn from"),
        (
            RULE_CONDITION,
            condition("signal_at_least: {address: 1.8}"),
            "the score for `address` must be between 0 and 1",
        ),
        (RULE_CONDITION, condition("risk_at_least: -0.1"), "`risk_at_least` must be a number between 0 and 1"),
        (
            RULE_CONDITION,
            condition("message_matches_template: [no-such]"),
            "`message_matches_template` names templates that are not in fraud/templates/: no-such",
        ),
        (REVIEW_LINE, "review_threshold: 1.3", "`review_threshold` must be between 0 and 1"),
        (REVIEW_LINE, "review_threshold: 0.99", f"review_threshold 0.99 is above block_threshold {SHIPPED_BLOCK}"),
        ("    at_least: review", "    at_least: escalate", "unknown consequence `at_least: escalate`"),
        ("    at_least: review", "    at_least: clear", "`at_least: clear` is not allowed"),
    ],
)
def test_wrong_values_are_refused_with_their_line(old: str, new: str, message: str) -> None:
    assert old in SHIPPED_RULES
    text = SHIPPED_RULES.replace(old, new, 1)
    [problem] = rules_problems(text)
    assert problem.startswith(f"fraud/rules.yaml:{line_of_text(text, new.split(chr(10))[-1].strip())}: {message}"), (
        problem
    )


def test_a_template_that_does_not_parse_is_refused_naming_the_file() -> None:
    snapshot = with_files({"fraud/templates/broken.md": "no header here, just text\n"})
    assert [str(p) for p in check(snapshot)] == [
        "fraud/templates/broken.md: fraud template does not parse: no YAML header; the file must start with a "
        "'---' line, then name/tactic"
    ]


def test_a_missing_rules_file_is_refused() -> None:
    files = {p: t for p, t in shipped_snapshot().files.items() if p != RULES_PATH}
    assert [p.path for p in check(Snapshot(files))] == [RULES_PATH]


# --- the condition language and the hard rules in `bound` ---------------------------------------------


def signals(**scores: float) -> list[Signal]:
    names = ["address", "return_distance", "customer", "tracking", "payment", "conversation"]
    return [Signal(name=n, score=scores.get(n, 0.0), rule_score=scores.get(n, 0.0), summary="x") for n in names]  # type: ignore[arg-type]


def case(**fields: Any) -> CaseFields:
    return CaseFields(**({"claim_kind": "not_received", "claim_amount": 80.0, "order_amount": 80.0} | fields))


def rules_with(when: str, at_least: str = "review") -> str:
    return SHIPPED_RULES.replace(RULE_CONDITION, condition(when)).replace(
        "    at_least: review", f"    at_least: {at_least}"
    )


@pytest.mark.parametrize(
    ("when", "holds", "fails"),
    [
        ("address_on_fraud_list: true", case(address_on_fraud_list=True), case(address_on_fraud_list=False)),
        ("claim_amount_over: 500", case(claim_amount=501), case(claim_amount=500)),
        ("order_amount_over: 500", case(order_amount=900), case(order_amount=100)),
        ("claim_kind: [refund_request, arrived_broken]", case(claim_kind="refund_request"), case()),
        ("customer_account_age_days_under: 30", case(customer_account_age_days=3), case(customer_account_age_days=30)),
        (
            "customer_prior_claims_365d_at_least: 2",
            case(customer_prior_claims_365d=2),
            case(customer_prior_claims_365d=1),
        ),
        (
            "address_unrelated_customers_at_least: 3",
            case(address_unrelated_customers=5),
            case(address_unrelated_customers=2),
        ),
        ("payment_chargebacks_365d_at_least: 1", case(payment_chargebacks_365d=1), case(payment_chargebacks_365d=0)),
        ("payment_card_country_mismatch: true", case(payment_card_country_mismatch=True), case()),
        ("tracking_delivered_then_claimed: true", case(tracking_delivered_then_claimed=True), case()),
        ("return_distance_km_over: 200", case(return_distance_km=900.0), case(return_distance_km=None)),
        ("message_matches_template: [empty-box]", case(templates_matched=("empty-box",)), case(templates_matched=())),
    ],
)
def test_each_condition_raises_a_clear_to_review_only_when_it_holds(
    when: str, holds: CaseFields, fails: CaseFields
) -> None:
    calibration = workspace_with_rules(rules_with(when)).fraud.calibration
    decision, why = bound("clear", 0.01, signals(), calibration, holds)
    assert decision == "review" and why.startswith("hard rule 'known-fraud-address'") and when.split(":")[0] in why
    assert bound("clear", 0.01, signals(), calibration, fails) == ("clear", "model proposal kept")


def test_all_conditions_of_a_rule_must_hold_and_unknown_fields_never_hold() -> None:
    calibration = workspace_with_rules(
        rules_with("claim_amount_over: 500\naddress_on_fraud_list: true")
    ).fraud.calibration
    assert (
        bound("clear", 0.01, signals(), calibration, case(claim_amount=900, address_on_fraud_list=True))[0] == "review"
    )
    assert bound("clear", 0.01, signals(), calibration, case(claim_amount=900))[0] == "clear", "address unknown"
    assert bound("clear", 0.01, signals(), calibration, case(address_on_fraud_list=True))[0] == "clear"
    assert bound("clear", 0.01, signals(), calibration, None)[0] == "clear", "no case fields: no hard rule holds"


def test_signal_and_risk_conditions_read_the_rule_scores_and_the_risk() -> None:
    calibration = workspace_with_rules(rules_with("signal_at_least: {address: 0.8, payment: 0.5}")).fraud.calibration
    assert bound("clear", 0.01, signals(address=0.85, payment=0.5), calibration, case())[0] == "review"
    assert bound("clear", 0.01, signals(address=0.85, payment=0.4), calibration, case())[0] == "clear"
    # Both risks below the shipped review threshold (0.104): only the rule can send 0.09 to review.
    calibration = workspace_with_rules(rules_with("risk_at_least: 0.08")).fraud.calibration
    assert bound("clear", 0.09, signals(), calibration, case())[0] == "review"
    assert bound("clear", 0.07, signals(), calibration, case())[0] == "clear"


def test_a_hard_rule_never_clears_and_a_block_still_needs_the_block_rule() -> None:
    calibration = workspace_with_rules(rules_with("address_on_fraud_list: true", "block")).fraud.calibration
    listed = case(address_on_fraud_list=True)
    decision, why = bound("clear", 0.01, signals(), calibration, listed)
    assert decision == "review" and "asks for block, but rule 3" in why
    strong = signals(address=0.9, tracking=0.9, payment=0.9)
    assert bound("review", 0.99, strong, calibration, listed)[0] == "block", "where rule 3 allows it, it blocks"
    # A case the rules already send further keeps that: a hard rule is a floor, not a ceiling.
    review = workspace_with_rules(SHIPPED_RULES).fraud.calibration
    assert bound("block", 0.99, strong, review, listed) == ("block", "model proposal kept")
    assert bound("clear", 0.5, signals(), review, listed)[1].startswith("rule 2")


# --- the proposal `--calibrate` writes ------------------------------------------------------------------


def test_fitted_values_replace_only_the_numbers_and_keep_comments_and_hard_rules(tmp_path: Path) -> None:
    from dataclasses import replace

    from tasks.fraud.evaluation import propose_calibration

    workspace = load_workspace(shipped_snapshot())
    shipped = workspace.fraud.calibration
    fitted = replace(
        shipped,
        weights={n: round(w + 1, 4) for n, w in shipped.weights.items()},
        bias=-7.5,
        review_threshold=0.41,
        block_threshold=0.9,
        fit={"train_claims": 1190, "C": 3.0},
    )
    text = with_fitted_values(SHIPPED_RULES, fitted)
    parsed = parse_rules(RULES_PATH, text)
    assert (parsed.weights, parsed.bias, parsed.review_threshold, parsed.block_threshold, parsed.fit) == (
        fitted.weights,
        -7.5,
        0.41,
        0.9,
        {"train_claims": 1190, "C": 3.0},
    )
    assert parsed.hard_rules == shipped.hard_rules
    comments = [line for line in SHIPPED_RULES.split("\n") if line.lstrip().startswith("#")]
    assert comments == [line for line in text.split("\n") if line.lstrip().startswith("#")]

    folder = tmp_path / "proposal"
    proposal = propose_calibration(fitted, workspace, folder)
    assert (folder / RULES_PATH).read_text() == text
    assert proposal.snapshot.changed_from(workspace.snapshot) == {RULES_PATH: "changed"}
    with pytest.raises(FileExistsError, match="not empty"):
        propose_calibration(fitted, workspace, folder)


def test_a_rules_file_in_another_layout_is_rewritten_whole() -> None:
    from dataclasses import replace

    weights = SHIPPED_RULES.split("weights:\n", 1)[1].split("bias:", 1)[0]
    inline = ", ".join(line.strip() for line in weights.strip().splitlines())
    compact = (
        SHIPPED_RULES.split("weights:")[0]
        + f"weights: {{{inline}}}\n"
        + SHIPPED_RULES.split(f"{CONVERSATION_LINE}\n", 1)[1]
    )
    shipped = parse_rules(RULES_PATH, compact)
    fitted = replace(shipped, review_threshold=0.5)
    text = with_fitted_values(compact, fitted)
    assert text.startswith("# Rewritten by `agentflows eval fraud --calibrate`")
    again = parse_rules(RULES_PATH, text)
    assert again.review_threshold == 0.5 and again.hard_rules == shipped.hard_rules and again.weights == shipped.weights


# --- the comparison a reviewer of a rules change reads ---------------------------------------------------


def test_raising_the_review_threshold_shows_lower_recall_and_the_changed_claims(market_db: str) -> None:
    from tasks.fraud.evaluation import compare_fraud

    active = load_workspace(shipped_snapshot())
    proposed = workspace_with_rules(
        SHIPPED_RULES.replace(REVIEW_LINE, "review_threshold: 0.99").replace(BLOCK_LINE, "block_threshold: 0.995")
    )
    comparison = compare_fraud(active, proposed, "holdout")
    a, p = comparison.active, comparison.proposed

    assert a.claims == p.claims and a.frauds == p.frauds, "both sides scored the same claims"
    assert p.recall < a.recall
    missed = [c for c in comparison.changes if c.fraud and c.after == "clear"]
    assert missed and all(c.before == "review" for c in comparison.changes)
    assert p.fn - a.fn == len(missed)

    markdown = comparison.markdown(max_claims=len(comparison.changes))  # every changed claim listed
    assert f"| recall | {a.recall:.3f} | {p.recall:.3f} | {p.recall - a.recall:+.3f} |" in markdown
    assert f"`review_threshold` {SHIPPED_REVIEW} -> 0.99" in markdown
    assert f"## Claims whose verdict changes ({len(comparison.changes)})" in markdown
    for change in comparison.changes:
        assert f"| {change.claim_id} | {change.pattern} |" in markdown
        assert "review threshold 0.99" in change.why_after
    assert "proposed **NOT met**" in markdown
    assert comparison.seconds < 60

    same = compare_fraud(active, active, "holdout")
    assert same.changes == [] and "None: every claim keeps its verdict." in same.markdown()


# --- templates and agent files come from the run's snapshot -------------------------------------------


def test_templates_are_read_from_the_snapshot_a_run_took(empty_db: str, workspace_folder: Path) -> None:
    from agentflows.fraud_templates import add_template, propose_template, templates_dir
    from tasks.fraud.agents import signal_facts
    from tasks.workspace import active_workspace

    shop = Shop()
    claim = shop.claim(shop.order(shop.customer(), shop.address("1 Station Road")), "refund_request", MESSAGE)
    before = active_workspace()
    (workspace_folder / "fraud/templates/gift-card-swap.md").write_text(NEW_TACTIC)
    after = active_workspace()
    assert before.version != after.version

    def matched(version: str) -> dict[str, str]:
        facts = asyncio.run(signal_facts.fn("conversation", claim, version))
        return {m.name: m.version for m in facts.matches}  # type: ignore[attr-defined]

    assert "gift-card-swap" not in matched(before.version), "a run keeps the snapshot it started with"
    assert matched(after.version)["gift-card-swap"] == after.snapshot.version("fraud/templates/gift-card-swap.md")

    # A broken file never goes live: the next run keeps the last valid snapshot.
    (workspace_folder / "fraud/templates/broken.md").write_text("not a template\n")
    assert active_workspace().version == after.version
    (workspace_folder / "fraud/templates/broken.md").unlink()

    # `templates add` and proposals from confirmed frauds write into the active workspace.
    assert templates_dir() == workspace_folder / "fraud/templates"
    added = add_template("fake-invoice", "Sends a forged invoice", ["See the invoice attached, refund it now."])
    proposed = propose_template(claim, "refund_request", MESSAGE, "Dana", "new tactic")
    assert added.parent == workspace_folder / "fraud/templates"
    assert proposed.parent == workspace_folder / "fraud/templates/proposed"
    files = active_workspace().snapshot.files
    assert "fraud/templates/fake-invoice.md" in files and not any("proposed" in p for p in files)


CLEAR = {"risk_score": 0.01, "decision": "clear", "rationale": "nothing to see here", "evidence_refs": []}


def capturing(seen: list[AgentInfo], answer: dict[str, Any] = CLEAR, specs: list[str] | None = None) -> Any:
    """A `model_for_spec` stand-in: a model that records what each agent sent, and answers `answer`."""

    def build(spec: str, _settings: Any = None) -> FunctionModel:
        if specs is not None:
            specs.append(spec)

        def respond(_messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
            seen.append(info)
            return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, json.dumps(answer))])

        return FunctionModel(respond, model_name=spec)

    return build


def test_signal_agents_are_configured_by_the_runs_agent_files(empty_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    from agents import durable
    from agents.durable import clear_agent_caches
    from tasks.fraud import agents as fraud_agents
    from tasks.workspace import store_snapshot

    path = "agents/fraud-signal-address.yaml"
    workspace = load_workspace(
        with_files(
            {
                path: "name: fraud-signal-address\nmodel: openai:gpt-address\nretries: 1\n"
                "model_settings:\n  temperature: 0.3\ninstructions: Look for the GIRAFFE pattern.\n"
            }
        )
    )
    store_snapshot(workspace.snapshot, live=False)
    shop = Shop()
    claim_id = shop.claim(shop.order(shop.customer(), shop.address("1 Station Road")))
    seen: list[AgentInfo] = []
    specs: list[str] = []
    monkeypatch.setattr(durable, "model_for_spec", capturing(seen, {"score": 0.2, "summary": "a quiet address"}, specs))
    monkeypatch.setattr(fraud_agents, "signal_facts", fraud_agents.signal_facts.fn)
    monkeypatch.setattr(fraud_agents, "get_run_logger", lambda: logging.getLogger("tests.fraud"))
    clear_agent_caches()
    from tasks.fraud.cases import load_case_sync

    try:
        signal, _facts = asyncio.run(fraud_agents.run_signal("address", load_case_sync(claim_id), workspace))
    finally:
        clear_agent_caches()
    assert (signal.status, signal.score, signal.summary) == ("ok", 0.2, "a quiet address")
    [info] = seen
    assert specs == ["openai:gpt-address"], "the file's model"
    assert "GIRAFFE" in (info.instructions or "") and "You check one fraud signal" in (info.instructions or "")
    assert (info.model_settings or {}).get("temperature") == 0.3


def test_the_orchestrator_is_configured_by_the_runs_agent_file(empty_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Instructions, model and settings come from `agents/fraud-orchestrator.yaml` of the workspace given;
    a changed file builds a new agent (the per-event-loop cache keys on the file)."""
    from agents import durable
    from agents.durable import clear_agent_caches
    from agents.fraud import orchestrator
    from tasks.fraud.agents import judge

    def orchestrator_file(instructions: str) -> str:
        return (
            "name: fraud-orchestrator\nmodel: openai:gpt-from-the-file\nmodel_settings:\n  temperature: 0.1\n"
            f"instructions: |\n  {instructions}\n"
        )

    path = "agents/fraud-orchestrator.yaml"
    first = load_workspace(with_files({path: orchestrator_file("Weigh ZEBRA first.")}))
    second = load_workspace(with_files({path: orchestrator_file("Weigh OKAPI first.")}))
    seen: list[AgentInfo] = []
    monkeypatch.setattr(durable, "model_for_spec", capturing(seen))
    clear_agent_caches()
    claim = ClaimSummary(
        claim_id=1,
        order_id=1,
        customer_id=1,
        kind="not_received",
        message="where is my parcel",
        amount_claimed=20,
        order_amount=20,
        opened_at=datetime(2026, 11, 1, tzinfo=UTC),
    )

    async def both() -> list[Any]:
        spec = "openai:gpt-from-the-file"
        a, b = first.agent(orchestrator.NAME), second.agent(orchestrator.NAME)
        assert orchestrator.orchestrator(a, spec) is orchestrator.orchestrator(a, spec), "built once per loop"
        assert orchestrator.orchestrator(b, spec) is not orchestrator.orchestrator(a, spec), (
            "another file, another agent"
        )
        return [await judge(claim, signals(), None, w) for w in (first, second, first)]

    try:
        verdicts = asyncio.run(both())
    finally:
        clear_agent_caches()
    assert [v.model for v in verdicts] == ["openai:gpt-from-the-file"] * 3
    assert [v.workspace_version for v in verdicts] == [first.version, second.version, first.version]
    assert ["ZEBRA" in (i.instructions or "") for i in seen] == [True, False, True]
    assert "OKAPI" in (seen[1].instructions or "")
    assert all((i.model_settings or {}).get("temperature") == 0.1 for i in seen)


# --- the known-fraud-address hard rule, end to end ------------------------------------------------------


def list_delivery_address(claim_id: int) -> None:
    """Put the claim's delivery address on the known-fraud list (as the fraud team would)."""
    with session_scope() as session:
        claim = session.get(Claim, claim_id)
        order = session.get(Order, claim.order_id)  # type: ignore[union-attr]
        address = session.get(Address, order.delivery_address_id)  # type: ignore[union-attr]
        assert address is not None
        if session.scalar(select(KnownFraudAddress.id).where(KnownFraudAddress.normalized == address.normalized)):
            return
        session.add(
            KnownFraudAddress(
                line1=address.line1,
                city=address.city,
                postcode=address.postcode,
                country=address.country,
                normalized=address.normalized,
                source="test",
            )
        )


@pytest.mark.e2e
def test_a_claim_to_a_known_fraud_address_is_never_cleared_until_the_rule_is_removed(
    prefect_server: str, market_db: str, workspace_folder: Path
) -> None:
    from flows.fraud_check import fraud_check
    from tasks.fraud.batch import verdicts_batch
    from tasks.fraud.review import review_input, submit_review
    from tasks.workspace import active_workspace
    from tests.fraud.test_fraud_check_e2e import cases_by_decision, check_row, decisions
    from tests.helpers import artifacts_markdown, flow_run_state, run_in_background, wait_for

    candidates = cases_by_decision()["clear"][:10]
    for claim_id in candidates:
        list_delivery_address(claim_id)
    without_rule = workspace_with_rules(SHIPPED_RULES.split("hard_rules:")[0] + "hard_rules: []\n")
    listed = verdicts_batch(candidates, workspace=without_rule)
    assert all(v.signals["address"].rule_score >= 0.6 for v in listed.values()), "the address signal sees the list"
    # Claims the other rules alone would still clear with their address listed: only the hard rule stops them.
    first, second = [c for c in candidates if listed[c].decision == "clear"][:2]
    active = active_workspace()

    bg = run_in_background(lambda: fraud_check(first))

    def decided_or_paused() -> bool:
        bg.check()
        row = check_row(first)
        if row is None or row.status == CheckStatus.IN_PROGRESS:
            return False
        return row.status != CheckStatus.AWAITING_REVIEW or flow_run_state(row.flow_run_id) == "PAUSED"

    wait_for(decided_or_paused, timeout=90, what="the listed claim's check to decide or pause")
    [auto] = decisions(first)
    assert (auto.action, auto.model_decision) == ("review", "clear"), "the offline orchestrator proposed clear"
    assert auto.rule.startswith("hard rule 'known-fraud-address'"), auto.rule
    assert auto.workspace_version == active.version
    markdown = artifacts_markdown(auto.flow_run_id)  # type: ignore[arg-type]
    assert "known-fraud-address" in markdown
    assert f"**Workspace** `{active.version}` · **rules** `{active.fraud.rules_ref}`" in markdown
    asyncio.run(submit_review(*review_input(first, "confirm fraud", "Dana", "address on the list")))
    assert bg.join(60).outcome == "confirmed_fraud"
    assert [d.workspace_version for d in decisions(first)] == [active.version] * 2

    # The fraud team removes the rule from the workspace file: the next check clears the same situation.
    rules = workspace_folder / RULES_PATH
    rules.write_text(rules.read_text().split("hard_rules:")[0] + "hard_rules: []\n")
    result = asyncio.run(fraud_check(second))
    assert (result.outcome, result.rule) == ("cleared", "model proposal kept")
    [row] = decisions(second)
    assert row.workspace_version == active_workspace().version != active.version
