"""Fraud eval: the fraud check scored on the labelled, held-out claims, as a Prefect run.

Run it: `agentflows eval fraud` (it starts this run when a Prefect server answers, and prints the same
figures either way). The run's artifacts are two tables: precision, recall, F1, review rate and the
confusion matrix against the goal, and the flag rate per planted fraud pattern.

The story of a run:
  0. take the workspace snapshot (fraud/rules.yaml, templates) the evaluation scores
  1. score every labelled claim of the split on the batch path (`tasks.fraud.evaluation.evaluate`:
     the six signals set-wise, the offline orchestrator's proposal, the same hard rules)
  2. publish the figures and the per-pattern flag rates as table artifacts
  3. return the figures (persisted, so the run page keeps them)
"""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import flow
from prefect.artifacts import acreate_table_artifact

from agentflows.markdown import md_table_artifact
from tasks.fraud.evaluation import Split, evaluate
from tasks.workspace import use_workspace, workspace_at


@flow(name="fraud-eval", persist_result=True)
async def fraud_eval(split: Split = "holdout") -> dict[str, Any]:
    """The evaluation as a Prefect run: the figures are published as a table artifact."""
    workspace = await asyncio.to_thread(workspace_at, await use_workspace())
    report = await asyncio.to_thread(evaluate, split, None, workspace)
    await acreate_table_artifact(
        table=md_table_artifact(report.summary_rows()),
        key=f"fraud-eval-{split}",
        description=(
            f"Fraud check on the {split} split ({report.claims} claims, {report.frauds} fraudulent), "
            f"workspace {report.workspace_version} (fraud/rules.yaml@{report.rules_version}); "
            f"review threshold {report.review_threshold:.3f}, block threshold {report.block_threshold:.3f}. "
            f"Goal met: {'yes' if report.meets_goal else 'NO'}."
        ),
    )
    await acreate_table_artifact(
        table=md_table_artifact(report.by_pattern),
        key=f"fraud-eval-{split}-patterns",
        description="Flag rate per planted pattern",
    )
    return {row["metric"]: row["value"] for row in report.summary_rows()}
