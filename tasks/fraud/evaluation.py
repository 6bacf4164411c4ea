"""Evaluating the fraud check on labelled claims (seeded, or a team's own CSV), and calibrating it without cheating.

Labels are the seeded `claim_labels` or a team's file (`tasks.fraud.labels`: claim external id or
id, fraud / legit, optional pattern). Claims are split once, by a hash of their reference: about
40 % form the held-out split, the rest the training split. `calibrate` fits the risk weights and
both thresholds on the training split only (logistic regression with the regularisation chosen by
cross-validated log-loss over `FOLDS` folds; thresholds by `thresholds`, the documented rule with
a margin: the review threshold below the lowest fraud score the F2-best cut flags, the block
threshold above every benign claim out of fold and strictly above review). `evaluate` reports
on the held-out split, which the calibration never saw: precision, recall and F1 of "not cleared"
(review or block) against the fraud label, the confusion matrix and the review rate;
`evaluate_with_ablation` adds, per signal, the same figures without it.

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

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select

from agentflows.db import session_scope
from agentflows.db.fraud import FraudDecision
from agentflows.workspace import Snapshot, write_snapshot
from agents.fraud.config import RULES_PATH, with_fitted_values
from agents.fraud.models import SIGNAL_NAMES, Decision
from agents.fraud.rules import Calibration
from agents.workspace import Workspace, load_workspace
from tasks.fraud.batch import BatchVerdict, claim_summaries, verdicts_batch, verdicts_from_facts
from tasks.fraud.common import engine
from tasks.fraud.labels import HOLDOUT_PERCENT, Labels, Split, seeded_labels
from tasks.fraud.labels import is_holdout as is_holdout  # re-exported: callers split claims the same way
from tasks.fraud.risk import load_calibration, overrides_in_use, templates_in_use
from tasks.fraud.signals import assess_batch, facts_batch
from tasks.workspace import active_workspace

BETA = 2.0  # a missed fraud costs more than an extra review: F2 weighs recall four times as much as precision
GOAL = {"recall": 0.90, "precision": 0.85, "review_rate": 0.25}
FOLDS = 5
REVIEW_MARGIN = 0.02
"""The review threshold sits at least this far (in risk) below the lowest fraud score the best cut flags."""
LOGIT_MARGIN = 2.0
"""The review threshold's margin below the lowest flagged fraud, in log-odds (about 7x lower odds)."""
PRECISION_FLOOR = 0.90
"""Out-of-fold precision the review cut keeps (a margin above the 0.85 goal)."""
REVIEW_BUDGET = 0.15
"""Out-of-fold review rate the review cut may spend at most (the goal allows 0.25)."""
BLOCK_GAP = 0.10
MARGIN_PRECISION_FLOOR = GOAL["precision"]
"""The margin below the review cut stops where out-of-fold precision would fall below this (the goal)."""
"""The block threshold sits at least this far above the review threshold."""


def labelled(split: Split = "holdout", labels: Labels | None = None) -> dict[int, tuple[bool, str]]:
    """{claim_id: (is_fraud, pattern)} of the labelled claims in `split` (default: the seeded labels)."""
    return (labels or seeded_labels()).split(split)


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


def _counts(labels: dict[int, tuple[bool, str]], verdicts: dict[int, BatchVerdict]) -> dict[str, int]:
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for cid, verdict in verdicts.items():
        flagged = verdict.decision != "clear"
        counts[("t" if flagged == labels[cid][0] else "f") + ("p" if flagged else "n")] += 1
    return counts


def _report(
    split: str,
    labels: dict[int, tuple[bool, str]],
    verdicts: dict[int, BatchVerdict],
    calibration: Calibration,
    workspace: Workspace,
    seconds: float,
) -> EvalReport:
    patterns: dict[str, dict[str, int]] = {}
    for cid, verdict in verdicts.items():
        stats = patterns.setdefault(labels[cid][1], {"claims": 0, "flagged": 0})
        stats["claims"] += 1
        stats["flagged"] += int(verdict.decision != "clear")
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
        **_counts(labels, verdicts),
    )


def evaluate(
    split: Split = "holdout",
    calibration: Calibration | None = None,
    workspace: Workspace | None = None,
    labels: Labels | None = None,
) -> EvalReport:
    """Run the checks on the labelled claims of `split` and score the decisions against the labels.

    `workspace` (default: the active one) gives the weights, thresholds, hard rules and templates;
    `calibration`, when given, replaces its weights and thresholds (and hard rules); `labels`
    (default: the seeded ones) are the claims to score, e.g. a team's own (`tasks.fraud.labels`).
    """
    return evaluate_with_ablation(split, calibration, workspace, labels, ablate=False)[0]


@dataclass(frozen=True)
class AblationRow:
    """The check without one signal: what it catches alone shows as recall lost."""

    signal: str
    precision: float
    recall: float
    review_rate: float
    recall_change: float
    precision_change: float
    frauds_lost: int  # frauds flagged with every signal and cleared without this one

    def row(self) -> dict[str, Any]:
        return {
            "without": self.signal,
            "precision": round(self.precision, 3),
            "recall": round(self.recall, 3),
            "review rate": round(self.review_rate, 3),
            "recall change": f"{self.recall_change:+.3f}",
            "precision change": f"{self.precision_change:+.3f}",
            "frauds only it catches": self.frauds_lost,
        }


def evaluate_with_ablation(
    split: Split = "holdout",
    calibration: Calibration | None = None,
    workspace: Workspace | None = None,
    labels: Labels | None = None,
    ablate: bool = True,
) -> tuple[EvalReport, list[AblationRow]]:
    """`evaluate`, and per signal the same evaluation without it (facts computed once, reused).

    A signal whose removal costs a lot of recall carries a fraud pattern alone: one change in how
    fraudsters behave on that aspect and the pattern goes undetected.
    """
    started = time.perf_counter()
    chosen = labelled(split, labels)
    if not chosen:
        raise LookupError(f"no labelled claims in the {split} split; try --split all")
    workspace = workspace or active_workspace()
    calibration = calibration or load_calibration(workspace=workspace)
    ids = sorted(chosen)
    with engine().connect() as conn:
        facts = facts_batch(ids, templates_in_use(workspace), conn)
        claims = claim_summaries(ids, conn)
    verdicts = verdicts_from_facts(ids, facts, claims, calibration)
    report = _report(split, chosen, verdicts, calibration, workspace, time.perf_counter() - started)
    rows: list[AblationRow] = []
    if ablate:
        caught = {cid for cid, v in verdicts.items() if v.decision != "clear" and chosen[cid][0]}
        for name in SIGNAL_NAMES:
            without = verdicts_from_facts(ids, facts, claims, calibration, without=name)
            c = _counts(chosen, without)
            precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
            recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
            rows.append(
                AblationRow(
                    signal=name,
                    precision=precision,
                    recall=recall,
                    review_rate=sum(1 for v in without.values() if v.decision == "review") / max(len(without), 1),
                    recall_change=recall - report.recall,
                    precision_change=precision - report.precision,
                    frauds_lost=sum(1 for cid in caught if without[cid].decision == "clear"),
                )
            )
    return report, rows


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


def compare_fraud(
    active: Workspace, proposed: Workspace, split: Split = "holdout", labels: Labels | None = None
) -> FraudComparison:
    """Evaluate `active` and `proposed` on the same labelled claims of `split` and list what changes.

    Offline and deterministic (the batch path: set-wise signals, the offline orchestrator, the same
    hard rules as a run): a few seconds on the seeded data, and the same answer every time, so a
    reviewer sees exactly what the rules change. What a real model would read differently in a
    changed agent file is not evaluated here; the report says so when such a file changed.
    """
    started = time.perf_counter()
    chosen = labelled(split, labels)
    before, cal_a = _verdicts(chosen, active)
    after, cal_p = _verdicts(chosen, proposed)
    seconds = time.perf_counter() - started
    changes = [
        VerdictChange(
            claim_id=cid,
            pattern=chosen[cid][1],
            fraud=chosen[cid][0],
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
        active=_report(split, chosen, before, cal_a, active, seconds / 2),
        proposed=_report(split, chosen, after, cal_p, proposed, seconds / 2),
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


def _cuts(scores: np.ndarray, fraud: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scores high to low with their labels, and the precision and review rate of cutting at each one."""
    order = np.argsort(-scores, kind="stable")
    s, f = scores[order], fraud[order]
    flagged = np.arange(1, len(s) + 1)
    return s, f, np.cumsum(f) / flagged, flagged / len(s)


def recall_first_cut(scores: np.ndarray, fraud: np.ndarray) -> float:
    """The lowest cut whose out-of-fold precision is still >= `PRECISION_FLOOR` within `REVIEW_BUDGET`.

    Recall first: a missed fraud costs more than a review, and frauds on another shop's data score
    lower than on the data the weights were fitted on (their patterns differ), so the review
    threshold goes as low as the training data allows without spending precision below the floor.
    Falls back to the F2-best cut when no cut reaches the floor.
    """
    s, f, precision, review_rate = _cuts(scores, fraud)
    ok = (precision >= PRECISION_FLOOR) & (review_rate <= REVIEW_BUDGET) & f
    if not ok.any():
        return review_threshold(scores, fraud)
    return float(s[np.nonzero(ok)[0].max()])


def margin_stop(scores: np.ndarray, fraud: np.ndarray, cut: float) -> float:
    """How far below `cut` the margin may go: the lowest score reached walking down from `cut` while
    out-of-fold precision stays >= `MARGIN_PRECISION_FLOOR` and the review rate within `REVIEW_BUDGET`.

    The log-odds margin buys recall on another shop's frauds, which score lower; without this stop
    it also spends the precision the training data shows it cannot afford (on a seed with honest
    look-alikes of every one-signal fraud, 2 log-odds fell to 0.70 precision out of fold).
    """
    s, _, precision, review_rate = _cuts(scores, fraud)
    ok = (precision >= MARGIN_PRECISION_FLOOR) & (review_rate <= REVIEW_BUDGET)
    stop = cut
    for i in np.nonzero(s < cut)[0]:
        if not ok[i]:
            break
        if i + 1 < len(s) and s[i + 1] == s[i]:
            continue  # a tie: the cut cannot fall between equal scores
        stop = float(s[i])
    return stop


def thresholds(scores: np.ndarray, fraud: np.ndarray) -> tuple[float, float]:
    """Review and block thresholds from out-of-fold scores, with a margin on both (the documented rule).

    Review: take the recall-first cut (`recall_first_cut`) and the lowest fraud score it flags; the
    review threshold sits `LOGIT_MARGIN` below it in log-odds (the odds of fraud about 7 times
    lower), and at least `REVIEW_MARGIN` below it in risk (never below 0.001): frauds on another
    shop's data score lower than on the data the weights were fitted on, and a margin in log-odds
    means the same at every height of the risk curve. The margin stops where out-of-fold precision
    would fall below the goal's (`margin_stop`). Block: above every benign claim out of fold,
    and at least `BLOCK_GAP` above review; always strictly above review.
    """
    best = recall_first_cut(scores, fraud)
    flagged_frauds = scores[fraud & (scores >= best)]
    lowest = min(max(float(flagged_frauds.min()) if flagged_frauds.size else best, 1e-6), 1 - 1e-6)
    lowered = 1 / (1 + math.exp(-(math.log(lowest / (1 - lowest)) - LOGIT_MARGIN)))
    review = max(0.001, min(lowered, lowest - REVIEW_MARGIN), margin_stop(scores, fraud, best))
    review = math.floor(review * 10_000) / 10_000
    benign = scores[~fraud]
    block = max(review + BLOCK_GAP, (float(benign.max()) + 0.01) if benign.size else 0.0)
    block = min(block, 0.99) if review < 0.98 else 1.0
    block = math.ceil(block * 10_000) / 10_000
    if block <= review:  # only when review sits at the very top of the scale
        block = min(1.0, review + 0.0001)
    return review, block


def _rates(scores: np.ndarray, fraud: np.ndarray, review: float) -> dict[str, float]:
    flagged = scores >= review
    tp = float((flagged & fraud).sum())
    return {
        "recall": round(tp / max(float(fraud.sum()), 1.0), 3),
        "precision": round(tp / max(float(flagged.sum()), 1.0), 3),
        "review_rate": round(float(flagged.mean()) if flagged.size else 0.0, 3),
    }


def calibrate(
    calibration_template: Calibration | None = None,
    workspace: Workspace | None = None,
    labels: Labels | None = None,
) -> Calibration:
    """Fit weights and thresholds on the training split only (the held-out split is never read).

    The signals are computed with `workspace`'s templates (default: the active workspace) for the
    training part of `labels` (default: the seeded labels); `strong_signal`, `block_min_strong`
    and the hard rules are kept from `calibration_template`. `fit:` records the cross-validated
    figures: recall, precision and review rate out of fold at the chosen thresholds, over all
    folds and per fold (min-max), so a team sees how much they move before trusting them.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    chosen = labelled("train", labels)
    strong_signal, block_min_strong = (
        (calibration_template.strong_signal, calibration_template.block_min_strong)
        if calibration_template
        else (0.5, 3)
    )
    workspace = workspace or active_workspace()
    signals = assess_batch(sorted(chosen), templates_in_use(workspace))
    ids = sorted(signals)
    x = np.array([[signals[c][n].rule_score for n in SIGNAL_NAMES] for c in ids])
    y = np.array([chosen[c][0] for c in ids], dtype=bool)
    frauds = int(y.sum())
    if frauds < FOLDS or len(ids) - frauds < FOLDS:
        raise LookupError(
            f"calibration needs at least {FOLDS} fraud and {FOLDS} legit claims in the training split "
            f"(found {frauds} fraud, {len(ids) - frauds} legit of {len(ids)}); label more claims"
        )
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=0)
    best_c, best_loss = 1.0, float("inf")
    for c in (0.3, 1.0, 3.0, 10.0, 30.0, 100.0):
        oof = cross_val_predict(LogisticRegression(C=c, max_iter=2000), x, y, cv=folds, method="predict_proba")[:, 1]
        loss = float(-np.mean(y * np.log(np.clip(oof, 1e-9, 1)) + (1 - y) * np.log(np.clip(1 - oof, 1e-9, 1))))
        if loss < best_loss:
            best_c, best_loss = c, loss
    oof = cross_val_predict(LogisticRegression(C=best_c, max_iter=2000), x, y, cv=folds, method="predict_proba")[:, 1]
    review, block = thresholds(oof, y)
    model = LogisticRegression(C=best_c, max_iter=2000).fit(x, y)
    per_fold = [_rates(oof[test], y[test], review) for _, test in folds.split(x, y)]
    overall = _rates(oof, y, review)
    return Calibration(
        weights={n: round(float(w), 4) for n, w in zip(SIGNAL_NAMES, model.coef_[0], strict=True)},
        bias=round(float(model.intercept_[0]), 4),
        review_threshold=review,
        block_threshold=block,
        strong_signal=strong_signal,
        block_min_strong=block_min_strong,
        hard_rules=calibration_template.hard_rules if calibration_template else (),
        fit={
            "labels": labels.source if labels else "claim_labels (seeded)",
            "split": f"training split: sha256('fraud-split:<claim ref>') % 100 >= {HOLDOUT_PERCENT}",
            "train_claims": len(ids),
            "train_frauds": frauds,
            "C": best_c,
            "threshold_rule": (
                f"review: lowest cut out of fold with precision >= {PRECISION_FLOOR} and review rate <= "
                f"{REVIEW_BUDGET}, then {LOGIT_MARGIN:g} lower in log-odds and at least "
                f"{REVIEW_MARGIN} below the lowest fraud it flags, but not where out-of-fold precision "
                f"would fall below {MARGIN_PRECISION_FLOOR} or review above {REVIEW_BUDGET}; block: above "
                f"every benign claim out of fold and at least {BLOCK_GAP} above review"
            ),
            "cv_folds": FOLDS,
            "oof_recall": overall["recall"],
            "oof_precision": overall["precision"],
            "oof_review_rate": overall["review_rate"],
            "cv_recall_range": [min(f["recall"] for f in per_fold), max(f["recall"] for f in per_fold)],
            "cv_precision_range": [min(f["precision"] for f in per_fold), max(f["precision"] for f in per_fold)],
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
