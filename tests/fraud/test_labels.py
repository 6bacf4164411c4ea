"""A team's own labels: `eval fraud --labels` on claims known by their external ids, bad rows by line,
and `--calibrate` that prints, or writes a workspace proposal with a margin, never the installed package."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
from sqlalchemy import select, update
from typer.testing import CliRunner

from agentflows.cli import app
from agentflows.db import session_scope
from agentflows.db.fraud import Claim, ClaimLabel
from agents.fraud.config import shipped_rules_path
from tasks.fraud.evaluation import BLOCK_GAP, LOGIT_MARGIN, MARGIN_PRECISION_FLOOR, REVIEW_MARGIN, thresholds
from tasks.fraud.labels import is_holdout, read_labels

runner = CliRunner()


def _external_ids_and_labels(tmp_path: Path, every: int = 1) -> tuple[Path, dict[str, tuple[str, str]]]:
    """Give the seeded claims external ids (as an import would) and write their labels as a team's CSV."""
    with session_scope() as s:
        s.execute(update(Claim).values(external_id="ZD-" + Claim.id.cast(type_=Claim.external_id.type)))
        rows = s.execute(select(ClaimLabel.claim_id, ClaimLabel.is_fraud, ClaimLabel.pattern)).all()
    path = tmp_path / "labels.csv"
    written: dict[str, tuple[str, str]] = {}
    spellings = {True: ["fraud", "Fraudulent", "yes"], False: ["legit", "not fraud", "Benign", "0"]}
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["Claim", "Label", "Pattern", "analyst"])
        for i, (cid, fraud, pattern) in enumerate(sorted(rows)):
            if i % every:
                continue
            ref = f"ZD-{cid}" if i % 5 else str(cid)  # most by external id, some by our numeric id
            label = spellings[bool(fraud)][i % len(spellings[bool(fraud)])]
            out.writerow([ref, label, pattern, "kim"])
            written[f"ZD-{cid}"] = (label, pattern)
    return path, written


def test_eval_scores_your_labels_by_external_id(market_db: str, workspace_folder: Path, tmp_path: Path) -> None:
    path, written = _external_ids_and_labels(tmp_path, every=3)
    labels = read_labels(path)
    assert len(labels.rows) == len(written)
    assert set(labels.keys.values()) == set(written), "split keys are the external ids, stable across imports"
    result = runner.invoke(app, ["eval", "fraud", "--labels", str(path), "--split", "all"])
    assert result.exit_code in (0, 1), result.output
    text = " ".join(result.output.split())
    frauds = sum(1 for label, _ in written.values() if label in ("fraud", "Fraudulent", "yes"))
    assert f"{len(written)} / {frauds}" in text
    ablation = text[text.index("Ablation") :]
    for name in ("address", "return_distance", "customer", "tracking", "payment", "conversation"):
        assert name in ablation
    assert "drop-address-ring" in text and "labels.csv" in text
    holdout = runner.invoke(app, ["eval", "fraud", "--labels", str(path), "--no-ablation"])
    in_holdout = sum(1 for key in written if is_holdout(key))
    assert f"{in_holdout} / " in " ".join(holdout.output.split())


def test_bad_label_rows_are_reported_by_line_and_nothing_is_scored(market_db: str, tmp_path: Path) -> None:
    with session_scope() as s:
        s.execute(update(Claim).where(Claim.id == 1).values(external_id="ZD-1"))
    path = tmp_path / "labels.csv"
    path.write_text("claim,label\nZD-1,fraud\nZD-404,legit\n2,maybe\n,fraud\nZD-1,legit\n")
    result = runner.invoke(app, ["eval", "fraud", "--labels", str(path)])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "4 bad row(s), nothing was scored" in text
    assert "line 3: no claim has external id or id 'ZD-404'" in text
    assert "line 4: label 'maybe'" in text and "line 5: the claim is empty" in text
    assert "line 6: claim 'ZD-1' is labelled twice (first on line 2)" in text
    path.write_text("order,verdict\n1,fraud\n")
    wrong = runner.invoke(app, ["eval", "fraud", "--labels", str(path)])
    assert wrong.exit_code == 2 and "line 1: the header needs a claim column" in " ".join(wrong.output.split())


def test_thresholds_keep_a_margin_below_the_lowest_flagged_fraud_and_block_above_review() -> None:
    rng = np.random.default_rng(0)
    scores = np.concatenate([rng.uniform(0.6, 0.99, 40), rng.uniform(0.0, 0.05, 400)])
    fraud = np.array([True] * 40 + [False] * 400)
    review, block = thresholds(scores, fraud)
    lowest = scores[:40].min()
    assert review <= lowest - REVIEW_MARGIN
    assert np.log(review / (1 - review)) <= np.log(lowest / (1 - lowest)) - LOGIT_MARGIN + 1e-3
    assert block > review and block >= review + BLOCK_GAP - 1e-4
    assert block > scores[~fraud].max()


def test_the_margin_stops_where_out_of_fold_precision_would_fall_below_the_goal() -> None:
    """Honest claims just below the frauds: the full log-odds margin would flag them all, so the review
    threshold stays where precision on the training scores is still >= the goal's."""
    rng = np.random.default_rng(0)
    scores = np.concatenate([rng.uniform(0.6, 0.99, 40), rng.uniform(0.0, 0.55, 400)])
    fraud = np.array([True] * 40 + [False] * 400)
    review, _ = thresholds(scores, fraud)
    lowest = scores[:40].min()
    full_margin = 1 / (1 + np.exp(-(np.log(lowest / (1 - lowest)) - LOGIT_MARGIN)))
    assert full_margin < review < lowest, "the margin was cut short, not dropped"
    flagged = scores >= review
    assert (flagged & fraud).sum() / flagged.sum() >= MARGIN_PRECISION_FLOOR
    assert flagged[:40].all(), "every fraud still flagged"
    below = scores[(scores < review)].max()
    with_next = scores >= below
    assert (with_next & fraud).sum() / with_next.sum() < MARGIN_PRECISION_FLOOR, "one step lower breaks the floor"
    same = np.full(20, 0.5)  # degenerate: every score equal, still block strictly above review
    review, block = thresholds(same, np.array([True, False] * 10))
    assert block > review


def _checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_calibrate_on_your_labels_prints_or_proposes_and_never_writes_the_package(
    market_db: str, workspace_folder: Path, tmp_path: Path
) -> None:
    path, _ = _external_ids_and_labels(tmp_path)
    package, active = shipped_rules_path(), workspace_folder / "fraud/rules.yaml"
    before = (_checksum(package), _checksum(active))

    printed = runner.invoke(app, ["eval", "fraud", "--labels", str(path), "--calibrate", "--no-ablation"])
    assert printed.exit_code in (0, 1), printed.output
    text = " ".join(printed.output.split())
    assert "5-fold cross-validated" in text and "nothing written" in text
    assert (_checksum(package), _checksum(active)) == before

    folder = tmp_path / "proposal"
    written = runner.invoke(
        app, ["eval", "fraud", "--labels", str(path), "--calibrate", "--write", str(folder), "--no-ablation"]
    )
    assert written.exit_code in (0, 1), written.output
    assert (_checksum(package), _checksum(active)) == before, "neither the package nor the live workspace changed"
    from agentflows.workspace import read_folder
    from agents.workspace import load_workspace

    proposal = load_workspace(read_folder(folder)).fraud.calibration
    assert proposal.fit["labels"] == str(path)
    assert proposal.block_threshold > proposal.review_threshold
    assert proposal.block_threshold - proposal.review_threshold >= BLOCK_GAP - 1e-4
    assert proposal.fit["cv_folds"] == 5 and len(proposal.fit["cv_recall_range"]) == 2
    assert "agentflows workspace propose" in " ".join(written.output.split())
