"""Bad input through the command line: each problem gets a clear message and nothing is written."""

from __future__ import annotations

import contextlib
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from agentflows.cli import app
from agentflows.db import session_scope
from agentflows.db.fraud import CheckStatus, ClaimCheck, FraudDecision

runner = CliRunner()


def test_unknown_case_is_refused_before_anything_starts(market_db: str) -> None:
    result = runner.invoke(app, ["run", "fraud-check", "--case", "999999"])
    assert result.exit_code == 2
    assert "unknown case id 999999" in result.output
    with session_scope() as s:
        assert s.scalar(select(func.count(ClaimCheck.id))) == 0


def test_decided_case_is_refused(market_db: str) -> None:
    with session_scope() as s:
        s.add(ClaimCheck(claim_id=7, status=CheckStatus.DECIDED, decision="clear"))
    result = runner.invoke(app, ["run", "fraud-check", "--case", "7"])
    assert result.exit_code == 2 and "case 7 was already decided (clear)" in result.output


def test_templates_list_names_a_broken_file_and_add_validates(template_dir: Path) -> None:
    (template_dir / "broken.md").write_text("not a template\n")
    listed = runner.invoke(app, ["templates", "list"])
    assert listed.exit_code == 0
    assert "broken.md" in listed.output and "no YAML header" in listed.output
    bad = runner.invoke(app, ["templates", "add", "--name", "Bad Name", "--tactic", "x", "--example", "hello there"])
    assert bad.exit_code == 2 and "`name` must be" in bad.output
    good = runner.invoke(
        app,
        [
            "templates",
            "add",
            "--name",
            "fake-invoice",
            "--tactic",
            "Sends a forged invoice",
            "--example",
            "See the invoice attached, refund it now.",
        ],
    )
    assert good.exit_code == 0 and (template_dir / "fake-invoice.md").exists()


def test_eval_prints_the_figures(market_db: str, template_dir: Path) -> None:
    """The figures, and a verdict and exit code a CI job can gate on (1 when the goal is not met)."""
    from tasks.fraud.evaluation import evaluate

    result = runner.invoke(app, ["eval", "fraud"])
    for word in ("precision", "recall", "F1", "review rate", "Confusion matrix"):
        assert word in result.output
    met = evaluate("holdout").meets_goal
    assert result.output.strip().endswith("goal met" if met else "goal NOT met")
    assert result.exit_code == (0 if met else 1), result.output


def test_a_failed_write_leaves_no_decision_behind(market_db: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The decision row and the check status commit together: an error after the insert undoes both."""
    from agents.fraud.models import CaseVerdict, Verdict
    from tasks.fraud import decisions

    with session_scope() as s:
        s.add(ClaimCheck(claim_id=3, flow_run_id="run-1", status=CheckStatus.IN_PROGRESS))
    verdict = CaseVerdict(
        claim_id=3,
        decision="clear",
        deterministic_risk=0.01,
        model="offline",
        rule="kept",
        signals=[],
        digest="d",
        proposal=Verdict(risk_score=0.01, decision="clear", rationale="nothing suspicious here"),
    )
    monkeypatch.setattr(decisions, "FINAL_STATUS", {})  # fails after the decision row was added
    with contextlib.suppress(KeyError):
        decisions._write_sync(verdict, "run-1", "clear", "auto")
    with session_scope() as s:
        assert s.scalar(select(func.count(FraudDecision.id))) == 0
        assert s.scalar(select(ClaimCheck.status).where(ClaimCheck.claim_id == 3)) == CheckStatus.IN_PROGRESS
    with session_scope() as s:  # another run holding the claim cannot write either
        pass
    monkeypatch.undo()
    try:
        decisions._write_sync(verdict, "run-2", "clear", "auto")
    except RuntimeError as exc:
        assert "held by flow run run-1" in str(exc)
    with session_scope() as s:
        assert s.scalar(select(func.count(FraudDecision.id))) == 0


def test_calibrate_writes_a_proposal_and_leaves_the_active_workspace_alone(
    market_db: str, workspace_folder: Path, tmp_path: Path
) -> None:
    from agentflows.workspace import read_folder
    from agents.workspace import load_workspace
    from tasks.fraud.evaluation import labelled

    active_rules = (workspace_folder / "fraud/rules.yaml").read_text()
    folder = tmp_path / "proposal"
    result = runner.invoke(app, ["eval", "fraud", "--calibrate", "--write", str(folder)])
    assert result.exit_code in (0, 1) and "Traceback" not in result.output, result.output  # 1: goal not met
    assert "agentflows workspace propose" in " ".join(result.output.split())
    assert (workspace_folder / "fraud/rules.yaml").read_text() == active_rules, "nothing went live"
    proposal = load_workspace(read_folder(folder))
    assert proposal.snapshot.changed_from(load_workspace(read_folder(workspace_folder)).snapshot) == {
        "fraud/rules.yaml": "changed"
    }
    assert proposal.fraud.calibration.fit["train_claims"] == len(labelled("train"))
    assert [r.name for r in proposal.fraud.calibration.hard_rules] == ["known-fraud-address"]

    again = runner.invoke(app, ["eval", "fraud", "--calibrate", "--write", str(folder)])
    assert again.exit_code == 2 and "not empty" in again.output


def test_calibrate_with_propose_starts_the_review_of_exactly_the_proposal_it_wrote(
    prefect_server: str, market_db: str, workspace_folder: Path, tmp_path: Path
) -> None:
    """`--propose` goes through the workspace review, never around it: the `workspace-change` run it
    starts names the folder it wrote, and the active workspace is unchanged until someone approves."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    from agentflows.cli.workspace import CHANGE_DEPLOYMENT
    from deployments.serve import build_deployments

    deployment_id = next(d for d in build_deployments() if d.full_name == CHANGE_DEPLOYMENT).apply()
    active_rules = (workspace_folder / "fraud/rules.yaml").read_text()
    folder = tmp_path / "proposal"
    result = runner.invoke(app, ["eval", "fraud", "--calibrate", "--propose", "--write", str(folder), "--no-ablation"])
    assert result.exit_code in (0, 1) and "Traceback" not in result.output, result.output  # 1: goal not met
    output = " ".join(result.output.split())
    assert "proposed" in output and "waits for a reviewer" in output, output

    async def review_runs() -> list:  # type: ignore[type-arg]
        async with get_client() as client:
            return await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
            )

    runs = [r for r in asyncio.run(review_runs()) if r.parameters.get("proposal") == str(folder.resolve())]
    assert len(runs) == 1, "one review run, for the folder it wrote"
    assert (folder / "fraud/rules.yaml").read_text() != active_rules, "the proposal carries the refit"
    assert (workspace_folder / "fraud/rules.yaml").read_text() == active_rules, "nothing is live before approval"
