"""The held-out evaluation matches what the calibration reported, and the shipped thresholds never saw it."""

from __future__ import annotations

import asyncio

import pytest

from agentflows.workspace import shipped_snapshot
from agents.workspace import load_workspace
from tasks.fraud.evaluation import GOAL, calibrate, evaluate, is_holdout, labelled


def test_holdout_figures_fall_within_what_cross_validation_promised(market_db: str, template_dir) -> None:  # type: ignore[no-untyped-def]
    """The shipped calibration's `fit:` figures are an honest forecast: the held-out split, which the
    fit never read, lands inside the per-fold range of recall and precision it reports.

    (The goal itself, recall >= 0.9 and precision >= 0.85, is not met on this seed's holdout: the
    README's "How well it works" gives the figures. This test fails if the calibration reports figures
    its holdout does not bear out, e.g. when a refit leaks the holdout or overfits the folds.)

    The holdout is itself a sample (93 frauds, ~100 flagged claims), so it is held to the folds' range
    widened by two of its own binomial standard errors: a fold has ~27 frauds, and which unseeable
    first claims land in the holdout moves its recall by a few hundredths (4 of the seed's 6
    `delivered-repeat-claimer` first claims are in it).
    """
    shipped = load_workspace(shipped_snapshot()).fraud.calibration
    report = evaluate("holdout")
    assert report.split == "holdout" and report.claims >= 700 and report.frauds >= 40

    def two_se(rate: float, n: int) -> float:
        return 2 * (rate * (1 - rate) / n) ** 0.5

    low_r, high_r = shipped.fit["cv_recall_range"]
    low_p, high_p = shipped.fit["cv_precision_range"]
    slack_r, slack_p = two_se(report.recall, report.frauds), two_se(report.precision, report.tp + report.fp)
    assert low_r - slack_r <= report.recall <= high_r + slack_r, report.summary_rows()
    assert low_p - slack_p <= report.precision <= high_p + slack_p, report.summary_rows()
    assert report.review_rate <= GOAL["review_rate"], report.summary_rows()
    assert report.tp + report.fn == report.frauds and report.tp + report.fp + report.fn + report.tn == report.claims
    patterns = {row["pattern"] for row in report.by_pattern}
    assert {"drop-address-ring", "return-fraud", "serial-inr", "stolen-card", "benign:moved-away"} <= patterns


def test_the_split_is_fixed_and_disjoint(market_db: str) -> None:
    train, holdout = labelled("train"), labelled("holdout")
    assert not set(train) & set(holdout)
    assert len(train) + len(holdout) == len(labelled("all")) == 2400
    assert all(is_holdout(c) for c in holdout) and not any(is_holdout(c) for c in train)
    assert 0.3 < len(holdout) / 2400 < 0.5


def test_shipped_calibration_is_reproduced_from_the_training_split_alone(market_db: str, template_dir) -> None:  # type: ignore[no-untyped-def]
    """Refitting on the training split gives the shipped weights and thresholds: the held-out split,
    which `calibrate` never reads, cannot have influenced them."""
    shipped = load_workspace(shipped_snapshot()).fraud.calibration
    refit = calibrate(shipped)
    assert refit.fit["train_claims"] == len(labelled("train"))
    assert refit.review_threshold == pytest.approx(shipped.review_threshold, abs=1e-3)
    assert refit.block_threshold == pytest.approx(shipped.block_threshold, abs=1e-3)
    for name, weight in shipped.weights.items():
        assert refit.weights[name] == pytest.approx(weight, rel=1e-3, abs=1e-3)


@pytest.mark.e2e
def test_eval_is_published_as_a_prefect_table_artifact(prefect_server, market_db, template_dir) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.fraud_eval import fraud_eval

    figures = asyncio.run(fraud_eval("holdout"))
    scored = evaluate("holdout").recall
    assert figures["recall"] == pytest.approx(scored, abs=1e-3), "the flow reports what the evaluation scores"

    async def read():  # type: ignore[no-untyped-def]
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["fraud-eval-holdout"]))
            )

    [artifact] = asyncio.run(read())[:1]
    assert artifact.type == "table" and "precision" in str(artifact.data)

    async def read_ablation():  # type: ignore[no-untyped-def]
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["fraud-eval-holdout-ablation"]))
            )

    [ablation] = asyncio.run(read_ablation())[:1]
    assert ablation.type == "table"
    assert all(name in str(ablation.data) for name in ("address", "payment", "conversation", "frauds only it catches"))
