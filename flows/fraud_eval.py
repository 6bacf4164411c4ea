"""Fraud eval: the fraud check scored on labelled claims (the seeded ones or a team's CSV), as a Prefect run.

Run it: `agentflows eval fraud [--labels labels.csv]` (it starts this run when a Prefect server
answers, and prints the same figures either way). The run's artifacts are three tables: precision,
recall, F1, review rate and the confusion matrix against the goal; the flag rate per pattern; and
the ablation (the same figures without each signal in turn, and how many frauds only that signal
catches).

The story of a run:
  0. take the workspace snapshot (fraud/rules.yaml, templates) the evaluation scores
  1. read the labels (a CSV path: every bad row fails the run with its line and reason; none: the
     seeded labels)
  2. score every labelled claim of the split on the batch path (`tasks.fraud.evaluation`: the six
     signals set-wise, the offline orchestrator's proposal, the same hard rules), then again
     without each signal
  3. publish the figures, the per-pattern flag rates and the ablation as table artifacts
  4. return the figures (persisted, so the run page keeps them)
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.artifacts import acreate_table_artifact

from agentflows.markdown import md_table_artifact
from tasks.fraud.evaluation import Split, evaluate_with_ablation
from tasks.fraud.labels import read_labels
from tasks.workspace import use_workspace, workspace_at


@flow(name="fraud-eval", persist_result=True)
async def fraud_eval(split: Split = "holdout", labels_file: str | None = None) -> dict[str, Any]:
    """The evaluation as a Prefect run: the figures and the ablation are published as table artifacts."""
    workspace = await asyncio.to_thread(workspace_at, await use_workspace())
    labels = await asyncio.to_thread(read_labels, Path(labels_file)) if labels_file else None
    report, ablated = await asyncio.to_thread(evaluate_with_ablation, split, None, workspace, labels)
    source = labels.source if labels else "the seeded labels"
    await acreate_table_artifact(
        table=md_table_artifact(report.summary_rows()),
        key=f"fraud-eval-{split}",
        description=(
            f"Fraud check on the {split} split of {source} ({report.claims} claims, {report.frauds} fraudulent), "
            f"workspace {report.workspace_version} (fraud/rules.yaml@{report.rules_version}); "
            f"review threshold {report.review_threshold:.3f}, block threshold {report.block_threshold:.3f}. "
            f"Goal met: {'yes' if report.meets_goal else 'NO'}."
        ),
    )
    await acreate_table_artifact(
        table=md_table_artifact(report.by_pattern),
        key=f"fraud-eval-{split}-patterns",
        description="Flag rate per pattern",
    )
    await acreate_table_artifact(
        table=md_table_artifact([row.row() for row in ablated]),
        key=f"fraud-eval-{split}-ablation",
        description=(
            f"The check without one signal at a time (with all six: precision {report.precision:.3f}, recall "
            f"{report.recall:.3f}). A large recall drop means that signal carries a fraud pattern alone."
        ),
    )
    return {row["metric"]: row["value"] for row in report.summary_rows()}
