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

Everything is evaluated for one workspace (the active one unless given): its weights, thresholds,
hard rules and templates. `compare_fraud` evaluates two workspaces on the same claims, the evidence
a reviewer reads before approving a change to the fraud rules; `calibrate` fits new values and
`propose_calibration` writes them as a proposal folder, never into the active workspace.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sqlalchemy import func, select

from agentflows.db import session_scope
from agentflows.db.fraud import ClaimLabel, FraudDecision
from agentflows.workspace import Snapshot, write_snapshot
from agents.fraud.config import RULES_PATH, with_fitted_values
from agents.fraud.models import SIGNAL_NAMES, Decision
from agents.fraud.rules import Calibration
from agents.workspace import Workspace, load_workspace
from tasks.fraud.batch import BatchVerdict, verdicts_batch
from tasks.fraud.risk import load_calibration, overrides_in_use, templates_in_use
from tasks.fraud.signals import assess_batch
from tasks.workspace import active_workspace

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
    workspace_version: str = ""
    rules_version: str = ""

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
    def block_rate(self) -> float:
        return self.blocked / self.claims if self.claims else 0.0

    def flag_rates(self) -> dict[str, float]:
        return {row["pattern"]: row["flag rate"] for row in self.by_pattern}

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
            {"metric": "block rate", "value": round(self.block_rate, 3), "goal": ""},
            {"metric": "confusion: fraud flagged (TP)", "value": self.tp, "goal": ""},
            {"metric": "confusion: fraud cleared (FN)", "value": self.fn, "goal": ""},
            {"metric": "confusion: benign flagged (FP)", "value": self.fp, "goal": ""},
            {"metric": "confusion: benign cleared (TN)", "value": self.tn, "goal": ""},
            {"metric": "claims / frauds", "value": f"{self.claims} / {self.frauds}", "goal": f"split: {self.split}"},
        ]


def _verdicts(
    labels: dict[int, tuple[bool, str]], workspace: Workspace, calibration: Calibration | None = None
) -> tuple[dict[int, BatchVerdict], Calibration]:
    calibration = calibration or load_calibration(workspace=workspace)
    verdicts = verdicts_batch(sorted(labels), templates_in_use(workspace), calibration, workspace)
    return verdicts, calibration


def _report(
    split: str,
    labels: dict[int, tuple[bool, str]],
    verdicts: dict[int, BatchVerdict],
    calibration: Calibration,
    workspace: Workspace,
    seconds: float,
) -> EvalReport:
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
        seconds=round(seconds, 2),
        by_pattern=[
            {
                "pattern": p,
                "claims": s["claims"],
                "flagged": s["flagged"],
                "flag rate": round(s["flagged"] / s["claims"], 2),
            }
            for p, s in sorted(patterns.items())
        ],
        workspace_version=workspace.version,
        rules_version=workspace.fraud.rules_version,
        **counts,
    )


def evaluate(
    split: Split = "holdout", calibration: Calibration | None = None, workspace: Workspace | None = None
) -> EvalReport:
    """Run the checks on the labelled claims of `split` and score the decisions against the labels.

    `workspace` (default: the active one) gives the weights, thresholds, hard rules and templates;
    `calibration`, when given, replaces its weights and thresholds (and hard rules).
    """
    started = time.perf_counter()
    labels = labelled(split)
    workspace = workspace or active_workspace()
    verdicts, calibration = _verdicts(labels, workspace, calibration)
    return _report(split, labels, verdicts, calibration, workspace, time.perf_counter() - started)


# --- comparing a proposed workspace with the active one -------------------------------------------


@dataclass(frozen=True)
class VerdictChange:
    """One claim decided differently by the proposal: what it is, both decisions, and why each."""

    claim_id: int
    pattern: str
    fraud: bool
    before: Decision
    after: Decision
    why_before: str
    why_after: str


def _why(verdict: BatchVerdict, calibration: Calibration) -> str:
    """Which rule decided a batch verdict, in words (the offline proposal follows rules 1-3)."""
    if verdict.rule != "model proposal kept":
        return verdict.rule
    if verdict.decision == "block":
        return f"block rule: risk {verdict.risk:.2f} >= block threshold {calibration.block_threshold:.2f}"
    if verdict.decision == "review":
        return f"risk {verdict.risk:.2f} >= review threshold {calibration.review_threshold:.2f}"
    return f"risk {verdict.risk:.2f} below review threshold {calibration.review_threshold:.2f}"


def _cell(text: str, limit: int = 110) -> str:
    text = " ".join(text.split()).replace("|", "/")
    return text[: limit - 1] + "…" if len(text) > limit else text


@dataclass
class FraudComparison:
    """The active and a proposed workspace evaluated on the same claims, and the claims whose verdict changes."""

    split: str
    active: EvalReport
    proposed: EvalReport
    changes: list[VerdictChange]
    rule_changes: list[str]
    notes: list[str]
    seconds: float

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def markdown(self, max_claims: int = 40) -> str:
        """A short report for the reviewer of a change: figures side by side, per pattern, the changed claims."""
        a, p = self.active, self.proposed

        def row(name: str, x: float, y: float, digits: int = 3) -> str:
            diff = y - x
            shown = f"{diff:+.{digits}f}" if digits else f"{diff:+.0f}"
            return f"| {name} | {x:.{digits}f} | {y:.{digits}f} | {shown if diff else ''} |"

        lines = [
            f"# Fraud check: proposed vs active ({self.split} split, {a.claims} claims, {a.frauds} frauds)",
            "",
            f"Active workspace `{a.workspace_version}` (`fraud/rules.yaml@{a.rules_version}`) · proposed "
            f"`{p.workspace_version}` (`fraud/rules.yaml@{p.rules_version}`) · deterministic signals and the offline "
            f"orchestrator on both sides, same claims · {self.seconds:.1f} s",
            "",
            "| metric | active | proposed | change |",
            "|---|---|---|---|",
            row("precision", a.precision, p.precision),
            row("recall", a.recall, p.recall),
            row("F1", a.f1, p.f1),
            row("review rate", a.review_rate, p.review_rate),
            row("block rate", a.block_rate, p.block_rate),
            row("fraud flagged (TP)", a.tp, p.tp, 0),
            row("fraud cleared (FN)", a.fn, p.fn, 0),
            row("benign flagged (FP)", a.fp, p.fp, 0),
            row("benign cleared (TN)", a.tn, p.tn, 0),
            "",
            f"Goal (recall >= {GOAL['recall']}, precision >= {GOAL['precision']}, review rate <= "
            f"{GOAL['review_rate']}): active {'met' if a.meets_goal else '**NOT met**'}, proposed "
            f"{'met' if p.meets_goal else '**NOT met**'}.",
        ]
        if self.rule_changes:
            lines += ["", "## What the proposal changes", *(f"- {c}" for c in self.rule_changes)]
        before, after = a.flag_rates(), p.flag_rates()
        claims = {r["pattern"]: r["claims"] for r in a.by_pattern}
        lines += ["", "## Flag rate per pattern", "| pattern | claims | active | proposed |", "|---|---|---|---|"]
        for pattern in sorted(set(before) | set(after)):
            x, y = before.get(pattern, 0.0), after.get(pattern, 0.0)
            lines.append(
                f"| {pattern} | {claims.get(pattern, '')} | {x:.2f} | {'**' if x != y else ''}{y:.2f}"
                f"{'**' if x != y else ''} |"
            )
        lines += ["", f"## Claims whose verdict changes ({len(self.changes)})"]
        if self.changes:
            lines += [
                "| claim | pattern | label | active | proposed | decided by (active) | decided by (proposed) |",
                "|---|---|---|---|---|---|---|",
            ]
            lines += [
                f"| {c.claim_id} | {c.pattern} | {'fraud' if c.fraud else 'benign'} | {c.before} | **{c.after}** "
                f"| {_cell(c.why_before)} | {_cell(c.why_after)} |"
                for c in self.changes[:max_claims]
            ]
            if len(self.changes) > max_claims:
                lines.append(f"\n… and {len(self.changes) - max_claims} more.")
        else:
            lines.append("None: every claim keeps its verdict.")
        if self.notes:
            lines += ["", "## Notes", *(f"- {n}" for n in self.notes)]
        return "\n".join(lines) + "\n"


def _rule_changes(active: Workspace, proposed: Workspace, a: Calibration, p: Calibration) -> list[str]:
    changes = [
        f"`{name}` {getattr(a, name)} -> {getattr(p, name)}"
        for name in ("review_threshold", "block_threshold", "strong_signal", "block_min_strong", "bias")
        if getattr(a, name) != getattr(p, name)
    ]
    changes += [
        f"weight of `{n}` {a.weights[n]} -> {p.weights[n]}" for n in SIGNAL_NAMES if a.weights[n] != p.weights[n]
    ]
    before, after = {r.name: r for r in a.hard_rules}, {r.name: r for r in p.hard_rules}
    changes += [
        f"hard rule `{n}` added: when {r.conditions}, at least {r.at_least}"
        for n, r in after.items()
        if n not in before
    ]
    changes += [
        f"hard rule `{n}` removed (was: when {r.conditions}, at least {r.at_least})"
        for n, r in before.items()
        if n not in after
    ]
    changes += [
        f"hard rule `{n}` changed: when {before[n].conditions}, at least {before[n].at_least} -> "
        f"when {r.conditions}, at least {r.at_least}"
        for n, r in after.items()
        if n in before and (before[n].when, before[n].at_least) != (r.when, r.at_least)
    ]
    files = proposed.snapshot.changed_from(active.snapshot)
    changes += [f"`{path}` {how}" for path, how in files.items() if path.startswith("fraud/templates/")]
    return changes


def compare_fraud(active: Workspace, proposed: Workspace, split: Split = "holdout") -> FraudComparison:
    """Evaluate `active` and `proposed` on the same labelled claims of `split` and list what changes.

    Offline and deterministic (the batch path: set-wise signals, the offline orchestrator, the same
    hard rules as a run): a few seconds on the seeded data, and the same answer every time, so a
    reviewer sees exactly what the rules change. What a real model would read differently in a
    changed agent file is not evaluated here; the report says so when such a file changed.
    """
    started = time.perf_counter()
    labels = labelled(split)
    before, cal_a = _verdicts(labels, active)
    after, cal_p = _verdicts(labels, proposed)
    seconds = time.perf_counter() - started
    changes = [
        VerdictChange(
            claim_id=cid,
            pattern=labels[cid][1],
            fraud=labels[cid][0],
            before=before[cid].decision,
            after=after[cid].decision,
            why_before=_why(before[cid], cal_a),
            why_after=_why(after[cid], cal_p),
        )
        for cid in sorted(set(before) & set(after))
        if before[cid].decision != after[cid].decision
    ]
    changes.sort(key=lambda c: (not c.fraud, c.pattern, c.claim_id))  # missed or newly caught frauds first
    notes = [f"{o} overrides the workspace on both sides (see `tasks.fraud.risk`)" for o in overrides_in_use()]
    agents = [p for p in proposed.snapshot.changed_from(active.snapshot) if p.startswith("agents/fraud-")]
    if agents:
        notes.append(
            f"{', '.join(agents)} changed: what a model is told does not show in this offline comparison "
            "(the offline orchestrator follows the rules); try it on a few cases with a real model"
        )
    return FraudComparison(
        split=split,
        active=_report(split, labels, before, cal_a, active, seconds / 2),
        proposed=_report(split, labels, after, cal_p, proposed, seconds / 2),
        changes=changes,
        rule_changes=_rule_changes(active, proposed, cal_a, cal_p),
        notes=notes,
        seconds=round(seconds, 2),
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


def calibrate(calibration_template: Calibration | None = None, workspace: Workspace | None = None) -> Calibration:
    """Fit weights and thresholds on the training split only (the held-out split is never read).

    The signals are computed with `workspace`'s templates (default: the active workspace);
    `strong_signal` and `block_min_strong` are kept from `calibration_template`, the hard rules too.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    labels = labelled("train")
    strong_signal, block_min_strong = (
        (calibration_template.strong_signal, calibration_template.block_min_strong)
        if calibration_template
        else (0.5, 3)
    )
    workspace = workspace or active_workspace()
    signals = assess_batch(sorted(labels), templates_in_use(workspace))
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
        hard_rules=calibration_template.hard_rules if calibration_template else (),
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


def propose_calibration(fitted: Calibration, workspace: Workspace, folder: Path) -> Workspace:
    """Write `workspace` with `fitted` weights and thresholds in its rules.yaml to `folder`, a new proposal.

    Only the fitted numbers and `fit:` change in rules.yaml; comments and hard rules stay as written.
    The folder must be new or empty: a proposal never overwrites anything, least of all the active
    workspace. Returns the proposal, parsed and checked like any workspace.
    """
    if folder.exists() and any(folder.iterdir()):
        raise FileExistsError(f"{folder} exists and is not empty; choose a new folder for the proposal")
    files = dict(workspace.snapshot.files)
    files[RULES_PATH] = with_fitted_values(files[RULES_PATH], fitted)
    proposal = load_workspace(Snapshot(files, source=str(folder)))
    write_snapshot(proposal.snapshot, folder)
    return proposal


def analyst_feedback_sync() -> dict[str, int]:
    """How the cases the system sent to review were decided by analysts (from the audit trail)."""
    with session_scope() as session:
        rows = session.execute(
            select(FraudDecision.action, func.count(FraudDecision.id))
            .where(FraudDecision.action.in_(["confirm_fraud", "not_fraud", "escalate"]))
            .group_by(FraudDecision.action)
        ).all()
    return {action: int(n) for action, n in rows}
