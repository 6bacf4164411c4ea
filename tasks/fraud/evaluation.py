"""Evaluating the fraud check on the seeded, labelled claims, and calibrating it without cheating.

Claims are split once, by a hash of their id: about 40 % form the held-out split, the rest the
training split. `calibrate` fits the risk weights and both thresholds on the training split only
(logistic regression with the regularisation chosen by cross-validated log-loss; the review
threshold maximises F2 on out-of-fold predictions, since a missed fraud costs more than a review;
the block threshold is the lowest one above every benign claim out of fold). `evaluate` reports
on the held-out split, which the calibration never saw: precision, recall and F1 of "not cleared"
(review or block) against the fraud label, the confusion matrix and the review rate.

The evaluation runs the batch path (`tasks.fraud.batch`): six set-wise signal computations and the
offline composers applied directly, instead of seven agent runs per claim inside Prefect. These are
plain functions (the CLI and the tests call them directly); `flows.fraud_eval` is the same
evaluation as a Prefect run with its figures as artifacts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
from sqlalchemy import func, select

from agentflows.db import session_scope
from agentflows.db.fraud import ClaimLabel, FraudDecision
from agentflows.fraud_templates import load_templates
from agents.fraud.models import SIGNAL_NAMES
from agents.fraud.rules import Calibration
from tasks.fraud.batch import verdicts_batch
from tasks.fraud.risk import load_calibration
from tasks.fraud.signals import assess_batch

Split = Literal["holdout", "train", "all"]
HOLDOUT_PERCENT = 40
BETA = 2.0  # a missed fraud costs more than an extra review: F2 weighs recall four times as much as precision
GOAL = {"recall": 0.90, "precision": 0.85, "review_rate": 0.25}


def is_holdout(claim_id: int) -> bool:
    """A fixed, seed-independent split: the same claim is always on the same side."""
    digest = hashlib.sha256(f"fraud-split:{claim_id}".encode()).hexdigest()
    return int(digest, 16) % 100 < HOLDOUT_PERCENT


def labelled(split: Split = "holdout") -> dict[int, tuple[bool, str]]:
    """{claim_id: (is_fraud, pattern)} of the labelled claims in `split`."""
    with session_scope() as session:
        rows = session.execute(select(ClaimLabel.claim_id, ClaimLabel.is_fraud, ClaimLabel.pattern)).all()
    if not rows:
        raise LookupError("no labelled claims: run `agentflows seed` first")
    keep = {"holdout": lambda c: is_holdout(c), "train": lambda c: not is_holdout(c), "all": lambda c: True}[split]
    return {cid: (bool(fraud), pattern) for cid, fraud, pattern in rows if keep(cid)}


@dataclass
class EvalReport:
    split: str
    claims: int
    frauds: int
    tp: int
    fp: int
    fn: int
    tn: int
    reviewed: int
    blocked: int
    review_threshold: float
    block_threshold: float
    seconds: float
    by_pattern: list[dict[str, Any]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def review_rate(self) -> float:
        return self.reviewed / self.claims if self.claims else 0.0

    @property
    def meets_goal(self) -> bool:
        return (
            self.recall >= GOAL["recall"]
            and self.precision >= GOAL["precision"]
            and self.review_rate <= GOAL["review_rate"]
        )

    def summary_rows(self) -> list[dict[str, Any]]:
        """The figures as table rows (the CLI prints them, the Prefect artifact shows them)."""
        return [
            {"metric": "precision", "value": round(self.precision, 3), "goal": f">= {GOAL['precision']}"},
            {"metric": "recall", "value": round(self.recall, 3), "goal": f">= {GOAL['recall']}"},
            {"metric": "F1", "value": round(self.f1, 3), "goal": ""},
            {"metric": "review rate", "value": round(self.review_rate, 3), "goal": f"<= {GOAL['review_rate']}"},
            {"metric": "block rate", "value": round(self.blocked / self.claims, 3), "goal": ""},
            {"metric": "confusion: fraud flagged (TP)", "value": self.tp, "goal": ""},
            {"metric": "confusion: fraud cleared (FN)", "value": self.fn, "goal": ""},
            {"metric": "confusion: benign flagged (FP)", "value": self.fp, "goal": ""},
            {"metric": "confusion: benign cleared (TN)", "value": self.tn, "goal": ""},
            {"metric": "claims / frauds", "value": f"{self.claims} / {self.frauds}", "goal": f"split: {self.split}"},
        ]


def evaluate(split: Split = "holdout", calibration: Calibration | None = None) -> EvalReport:
    """Run the checks on the labelled claims of `split` and score the decisions against the labels."""
    started = datetime.now(UTC)
    labels = labelled(split)
    calibration = calibration or load_calibration()
    verdicts = verdicts_batch(sorted(labels), load_templates(), calibration)
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    patterns: dict[str, dict[str, int]] = {}
    for cid, verdict in verdicts.items():
        fraud, pattern = labels[cid]
        flagged = verdict.decision != "clear"
        counts[("t" if flagged == fraud else "f") + ("p" if flagged else "n")] += 1
        stats = patterns.setdefault(pattern, {"claims": 0, "flagged": 0})
        stats["claims"] += 1
        stats["flagged"] += int(flagged)
    return EvalReport(
        split=split,
        claims=len(verdicts),
        frauds=sum(1 for cid in verdicts if labels[cid][0]),
        reviewed=sum(1 for v in verdicts.values() if v.decision == "review"),
        blocked=sum(1 for v in verdicts.values() if v.decision == "block"),
        review_threshold=calibration.review_threshold,
        block_threshold=calibration.block_threshold,
        seconds=round((datetime.now(UTC) - started).total_seconds(), 2),
        by_pattern=[
            {
                "pattern": p,
                "claims": s["claims"],
                "flagged": s["flagged"],
                "flag rate": round(s["flagged"] / s["claims"], 2),
            }
            for p, s in sorted(patterns.items())
        ],
        **counts,
    )


def review_threshold(scores: np.ndarray, fraud: np.ndarray) -> float:
    """The threshold with the best F-beta over out-of-fold scores (the highest one on ties)."""
    best_t, best_f = 0.5, -1.0
    for t in np.unique(scores)[::-1]:
        flagged = scores >= t
        tp = float((flagged & fraud).sum())
        if tp == 0:
            continue
        precision, recall = tp / flagged.sum(), tp / fraud.sum()
        f = (1 + BETA**2) * precision * recall / (BETA**2 * precision + recall)
        if f > best_f:
            best_t, best_f = float(t), f
    return best_t


def calibrate(calibration_template: Calibration | None = None) -> Calibration:
    """Fit weights and thresholds on the training split only (the held-out split is never read)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    labels = labelled("train")
    strong_signal, block_min_strong = (
        (calibration_template.strong_signal, calibration_template.block_min_strong)
        if calibration_template
        else (0.5, 3)
    )
    signals = assess_batch(sorted(labels), load_templates())
    ids = sorted(signals)
    x = np.array([[signals[c][n].rule_score for n in SIGNAL_NAMES] for c in ids])
    y = np.array([labels[c][0] for c in ids])
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    best_c, best_loss = 1.0, float("inf")
    for c in (0.3, 1.0, 3.0, 10.0, 30.0, 100.0):
        oof = cross_val_predict(LogisticRegression(C=c, max_iter=2000), x, y, cv=folds, method="predict_proba")[:, 1]
        loss = float(-np.mean(y * np.log(np.clip(oof, 1e-9, 1)) + (1 - y) * np.log(np.clip(1 - oof, 1e-9, 1))))
        if loss < best_loss:
            best_c, best_loss = c, loss
    oof = cross_val_predict(LogisticRegression(C=best_c, max_iter=2000), x, y, cv=folds, method="predict_proba")[:, 1]
    review = review_threshold(oof, y)
    benign_max = float(oof[~y].max())
    block = max(review, min(0.99, benign_max + 0.01))
    model = LogisticRegression(C=best_c, max_iter=2000).fit(x, y)
    flagged = oof >= review
    return Calibration(
        weights={n: round(float(w), 4) for n, w in zip(SIGNAL_NAMES, model.coef_[0], strict=True)},
        bias=round(float(model.intercept_[0]), 4),
        review_threshold=round(review, 4),
        block_threshold=round(block, 4),
        strong_signal=strong_signal,
        block_min_strong=block_min_strong,
        fit={
            "split": f"training split: sha256('fraud-split:<claim_id>') % 100 >= {HOLDOUT_PERCENT}",
            "train_claims": len(ids),
            "train_frauds": int(y.sum()),
            "C": best_c,
            "threshold_rule": f"review: max F{BETA:g} out of fold; block: above every benign claim out of fold",
            "oof_recall": round(float((flagged & y).sum() / y.sum()), 3),
            "oof_precision": round(float((flagged & y).sum() / max(flagged.sum(), 1)), 3),
            "oof_review_rate": round(float(flagged.mean()), 3),
            "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )


def analyst_feedback_sync() -> dict[str, int]:
    """How the cases the system sent to review were decided by analysts (from the audit trail)."""
    with session_scope() as session:
        rows = session.execute(
            select(FraudDecision.action, func.count(FraudDecision.id))
            .where(FraudDecision.action.in_(["confirm_fraud", "not_fraud", "escalate"]))
            .group_by(FraudDecision.action)
        ).all()
    return {action: int(n) for action, n in rows}
