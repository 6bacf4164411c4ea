"""`agentflows` commands for the fraud check (the package `__init__` imports this module to register them).

agentflows run fraud-check --case N      check one claim (pauses in the UI when risky)
agentflows run fraud-sweep [--since D]   check every undecided claim, a bounded number at a time
agentflows eval fraud [--labels F] [--calibrate [--write D | --propose]]   figures, ablation, refit
agentflows templates list | add          the fraud team's templates (the workspace's fraud/templates/)
agentflows fraud cases | show | pending | decide    look at cases, answer a paused review
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from agentflows.cli.common import app, console, fail, require_prefect_server, run_app

eval_app = typer.Typer(help="Evaluate workflows on labelled data.", no_args_is_help=True)
templates_app = typer.Typer(help="The fraud team's fraudulent-message templates.", no_args_is_help=True)
fraud_app = typer.Typer(help="Fraud cases: list, inspect, answer a paused review.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
app.add_typer(templates_app, name="templates")
app.add_typer(fraud_app, name="fraud")

OUTCOME_HELP = "confirm fraud | not fraud | escalate"


def _prefect_up() -> bool:
    from prefect.settings import PREFECT_API_URL

    from agentflows.prefect_server import healthy

    api = PREFECT_API_URL.value()
    return bool(api) and healthy(api)


# --- run -------------------------------------------------------------------------------------------


@run_app.command("fraud-check")
def run_fraud_check(case: Annotated[int, typer.Option("--case", help="The claim id to check")]) -> None:
    """Check one claim: cleared or blocked automatically, or paused for an analyst (waits here)."""
    from agentflows.db.migrate import upgrade
    from tasks.fraud.cases import CaseAlreadyDecidedError, CaseBusyError, UnknownCaseError, check_rows, load_case_sync

    upgrade()
    try:
        load_case_sync(case)
    except UnknownCaseError as exc:
        raise fail(escape(str(exc))) from None
    row = check_rows([case]).get(case)
    if row is not None and row.status.value == "decided":
        raise fail(f"case {case} was already decided ({row.decision}); see `agentflows fraud show --case {case}`")
    require_prefect_server()
    from agentflows.prefect_env import prefect_ui_url
    from flows.fraud_check import fraud_check

    console.print(
        f"checking case {case}; if it needs a review it pauses: answer in the UI ({prefect_ui_url()}) "
        f"or with `agentflows fraud decide --case {case} ...` (Ctrl-C stops waiting here)"
    )
    try:
        result = asyncio.run(fraud_check(case))
    except (CaseAlreadyDecidedError, CaseBusyError) as exc:
        raise fail(escape(str(exc))) from None
    table = Table("case", "outcome", "decision", "model proposed", "risk", "rule", "analyst", "run")
    table.add_row(
        str(result.case_id),
        result.outcome,
        result.decision or "",
        result.model_decision or "",
        f"{result.deterministic_risk:.2f}" if result.deterministic_risk is not None else "",
        escape(result.rule or result.reason or ""),
        result.analyst or "",
        result.flow_run_id or "",
    )
    console.print(table)


@run_app.command("fraud-sweep")
def run_fraud_sweep(
    since: Annotated[datetime | None, typer.Option(help="Only claims opened at or after this date")] = None,
    limit: Annotated[int, typer.Option(help="At most this many claims")] = 500,
) -> None:
    """Check every claim not yet decided, `fraud_sweep_concurrency` at a time (waits for reviews)."""
    from agentflows.db.migrate import upgrade

    upgrade()
    require_prefect_server()
    from flows.fraud_sweep import fraud_sweep

    summary = asyncio.run(fraud_sweep(since=since, limit=limit))
    console.print(f"{summary.selected} claims: " + ", ".join(f"{v} {k}" for k, v in summary.counts.items()))


# --- eval --------------------------------------------------------------------------------------------


@eval_app.command("fraud")
def eval_fraud(
    split: Annotated[str, typer.Option(help="holdout (default), train or all")] = "holdout",
    labels: Annotated[
        Path | None,
        typer.Option(help="Your labels: CSV with claim (external id or id), label (fraud/legit), optional pattern"),
    ] = None,
    calibrate: Annotated[
        bool,
        typer.Option(help="Refit weights and thresholds on the training split and print them (writes nothing alone)"),
    ] = False,
    write: Annotated[
        Path | None,
        typer.Option(help="With --calibrate: write the refit as a workspace proposal into this new folder"),
    ] = None,
    propose: Annotated[
        bool,
        typer.Option(
            help="With --calibrate: write the proposal (to --write or data_dir/proposals/...) and start its review"
        ),
    ] = False,
    ablation: Annotated[bool, typer.Option(help="Also score the check without each signal in turn")] = True,
) -> None:
    """Run the checks on labelled claims; print precision, recall, F1, confusion matrix, review rate, ablation.

    --labels scores your own labelled claims instead of the seeded ones. With --calibrate the
    refitted values are printed with their cross-validated figures; with --write DIR or --propose
    they become a proposal (a copy of the active workspace whose fraud/rules.yaml has the new
    numbers), compared with the active one, and go live only through the workspace review
    (`agentflows workspace propose DIR`, which --propose starts for you) and an approval. The
    installed package is never written.
    """
    from agentflows.db.migrate import upgrade
    from agentflows.settings import get_settings
    from flows.fraud_eval import fraud_eval
    from tasks.fraud.evaluation import calibrate as fit
    from tasks.fraud.evaluation import compare_fraud, evaluate_with_ablation, propose_calibration
    from tasks.fraud.labels import LabelsError, read_labels
    from tasks.fraud.risk import CalibrationError, load_calibration
    from tasks.workspace import active_workspace

    if split not in ("holdout", "train", "all"):
        raise fail(f"--split must be holdout, train or all; got {split!r}")
    if (write or propose) and not calibrate:
        raise fail("--write and --propose go with --calibrate (they write its proposal)")
    if propose:
        require_prefect_server()
    upgrade()
    proposal_folder: Path | None = None
    try:
        chosen = read_labels(labels.expanduser()) if labels else None
        workspace = active_workspace()
        if calibrate:
            fitted = fit(load_calibration(workspace=workspace), workspace=workspace, labels=chosen)
            _print_fit(fitted, load_calibration(workspace=workspace))
            if write or propose:
                stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
                folder = (write or get_settings().data_dir / "proposals" / f"fraud-calibration-{stamp}").expanduser()
                proposal = propose_calibration(fitted, workspace, folder)
                comparison = compare_fraud(workspace, proposal, split, chosen)  # type: ignore[arg-type]
                changes = Table("metric", "active", "proposed", title=f"Refitted values, {split} split")
                for name in ("precision", "recall", "f1", "review_rate"):
                    changes.add_row(
                        name, f"{getattr(comparison.active, name):.3f}", f"{getattr(comparison.proposed, name):.3f}"
                    )
                console.print(changes)
                console.print(
                    f"calibration fit on the training split ({fitted.fit.get('train_claims')} claims) written as a "
                    f"proposal to {escape(str(folder))} (fraud/rules.yaml only; {len(comparison.changes)} claims of "
                    f"the {split} split change verdict). Nothing is live yet: review and approve it with "
                    f"`agentflows workspace propose {escape(str(folder))}`.",
                    soft_wrap=True,
                )
                proposal_folder = folder
            else:
                console.print(
                    "nothing written: add --write DIR to save it as a workspace proposal, or --propose to also "
                    "start its review"
                )
        if _prefect_up():
            asyncio.run(fraud_eval(split, str(labels.expanduser().resolve()) if labels else None))  # type: ignore[arg-type]
        report, ablated = evaluate_with_ablation(split, workspace=workspace, labels=chosen, ablate=ablation)  # type: ignore[arg-type]
    except (LookupError, CalibrationError, FileExistsError, LabelsError) as exc:
        raise fail(escape(str(exc))) from None
    _print_report(report, ablated, chosen.source if chosen else "seeded labels")
    if proposal_folder is not None and propose:
        from agentflows.cli.workspace import propose as start_review

        start_review(proposal_folder)
    if not report.meets_goal:
        raise typer.Exit(1)


def _print_fit(fitted: Any, active: Any) -> None:
    """The refitted values beside the active ones, and the cross-validated figures behind them."""
    from agents.fraud.models import SIGNAL_NAMES

    table = Table("value", "active", "refit", title="Calibration refit on the training split")
    for name in ("review_threshold", "block_threshold", "bias"):
        table.add_row(name, f"{getattr(active, name):.4f}", f"{getattr(fitted, name):.4f}")
    for name in SIGNAL_NAMES:
        table.add_row(f"weight: {name}", f"{active.weights[name]:.4f}", f"{fitted.weights[name]:.4f}")
    console.print(table)
    fit = fitted.fit
    console.print(
        f"{fit['cv_folds']}-fold cross-validated on {fit['train_claims']} training claims ({fit['train_frauds']} "
        f"fraud): recall {fit['oof_recall']:.3f} (folds {fit['cv_recall_range'][0]:.3f}-"
        f"{fit['cv_recall_range'][1]:.3f}), "
        f"precision {fit['oof_precision']:.3f} (folds {fit['cv_precision_range'][0]:.3f}-"
        f"{fit['cv_precision_range'][1]:.3f}), review rate {fit['oof_review_rate']:.3f}. Thresholds: "
        f"{escape(fit['threshold_rule'])}.",
        soft_wrap=True,
    )


def _print_report(report: Any, ablated: list[Any], source: str) -> None:
    table = Table("metric", "value", "goal", title=f"Fraud check, {report.split} split ({source})")
    for row in report.summary_rows():
        table.add_row(row["metric"], str(row["value"]), row["goal"])
    console.print(table)
    confusion = Table("", "flagged (review/block)", "cleared", title="Confusion matrix")
    confusion.add_row("fraud", str(report.tp), str(report.fn))
    confusion.add_row("benign", str(report.fp), str(report.tn))
    console.print(confusion)
    patterns = Table("pattern", "claims", "flagged", "flag rate", title="By pattern")
    for row in report.by_pattern:
        patterns.add_row(escape(row["pattern"]), str(row["claims"]), str(row["flagged"]), f"{row['flag rate']:.2f}")
    console.print(patterns)
    if ablated:
        columns = list(ablated[0].row())
        table = Table(
            *columns,
            title=f"Ablation: the check without one signal (all signals: precision "
            f"{report.precision:.3f}, recall {report.recall:.3f})",
        )
        table.columns[0].no_wrap = True  # a signal name split over two lines reads as two signals
        for item in ablated:
            table.add_row(*(str(v) for v in item.row().values()))
        console.print(table)
    from tasks.fraud.evaluation import analyst_feedback_sync

    feedback = analyst_feedback_sync()
    reviewed = sum(feedback.values())
    if reviewed:
        benign = feedback.get("not_fraud", 0)
        console.print(
            f"analyst feedback: {reviewed} review cases decided, {benign} of them not fraud "
            f"({benign / reviewed:.0%} of reviews turned out benign), {feedback.get('escalate', 0)} escalated"
        )
    else:
        console.print("analyst feedback: no review case decided by an analyst yet")
    where = (
        "published as Prefect table artifacts 'fraud-eval-*'" if _prefect_up() else "no Prefect server: not published"
    )
    console.print(
        f"workspace {report.workspace_version} (fraud/rules.yaml@{report.rules_version}); "
        f"review threshold {report.review_threshold:.3f}, block threshold {report.block_threshold:.3f}; "
        f"{report.claims} claims in {report.seconds:.1f}s; {where}. "
        + ("[green]goal met[/]" if report.meets_goal else "[red]goal NOT met[/]")
    )


# --- templates ---------------------------------------------------------------------------------------


@templates_app.command("list")
def templates_list() -> None:
    """The templates the next fraud check reads (the workspace's fraud/templates/), and any broken file."""
    from agentflows.fraud_templates import TemplateError, load_templates
    from agentflows.settings import get_settings

    try:
        found = load_templates()
    except TemplateError as exc:
        raise fail(escape(str(exc))) from None
    table = Table("name", "tactic", "examples", "version", "file", title=str(found.folder))
    for t in found.templates:
        table.add_row(t.name, escape(t.tactic), str(len(t.examples)), t.version, t.path.name)
    console.print(table)
    for problem in found.problems:
        console.print(f"[yellow]skipped[/] {escape(str(problem))}")
    if found.problems and get_settings().fraud_templates_dir is None:
        console.print(
            "[red]the workspace is refused while a template does not parse[/]: runs keep the last valid "
            "version until it is fixed (`agentflows workspace check` shows every problem)"
        )


@templates_app.command("add")
def templates_add(
    name: Annotated[str, typer.Option(help="Unique id: lowercase letters, digits, dashes")],
    tactic: Annotated[str, typer.Option(help="One line describing the tactic")],
    example: Annotated[list[str], typer.Option(help="An example message (repeat for more)")],
    claim_kind: Annotated[
        list[str] | None, typer.Option(help="not_received, arrived_broken or refund_request (repeatable)")
    ] = None,
) -> None:
    """Add a template file (editing or adding files in the folder by hand works just as well)."""
    from agentflows.fraud_templates import TemplateError, add_template

    try:
        path = add_template(name, tactic, example, claim_kind or None)
    except TemplateError as exc:
        raise fail(escape(str(exc))) from None
    console.print(f"added {path}; the next fraud check uses it")


# --- cases ---------------------------------------------------------------------------------------------


@fraud_app.command("cases")
def fraud_cases(
    limit: int = 20,
    status: Annotated[str, typer.Option(help="unchecked, in_progress, awaiting_review, decided, ...")] = "",
) -> None:
    """Claims with their check status, newest first."""
    from sqlalchemy import select

    from agentflows.db import session_scope
    from agentflows.db.fraud import Claim, ClaimCheck

    query = select(Claim, ClaimCheck).outerjoin(ClaimCheck, ClaimCheck.claim_id == Claim.id)
    if status == "unchecked":
        query = query.where(ClaimCheck.id.is_(None))
    elif status:
        query = query.where(ClaimCheck.status == status)
    table = Table("case", "opened", "kind", "amount", "status", "decision", "risk")
    with session_scope() as session:
        for claim, check in session.execute(query.order_by(Claim.opened_at.desc()).limit(limit)):
            table.add_row(
                str(claim.id),
                f"{claim.opened_at:%Y-%m-%d}",
                claim.kind.value,
                f"{float(claim.amount_claimed):,.2f}",
                check.status.value if check else "unchecked",
                (check.decision or "") if check else "",
                f"{check.risk:.2f}" if check and check.risk is not None else "",
            )
    console.print(table)


@fraud_app.command("show")
def fraud_show(case: Annotated[int, typer.Option("--case", help="The claim id")]) -> None:
    """A case's audit trail: every decision, automatic or human, with the signals behind it."""
    from sqlalchemy import select

    from agentflows.db import session_scope
    from agentflows.db.fraud import FraudDecision

    with session_scope() as session:
        rows = list(
            session.scalars(select(FraudDecision).where(FraudDecision.claim_id == case).order_by(FraudDecision.id))
        )
    if not rows:
        raise fail(f"no decisions recorded for case {case}")
    for d in rows:
        console.rule(f"[bold]{d.action}[/] by {d.actor} at {d.created_at:%Y-%m-%d %H:%M} (run {d.flow_run_id})")
        console.print(
            f"risk {d.deterministic_risk:.2f}; model {escape(d.model)} proposed {d.model_decision}; {escape(d.rule)}"
            + (f"\nnote: {escape(d.note)}" if d.note else "")
        )
        table = Table("signal", "status", "score", "rule", "summary")
        for s in d.evidence:
            summary = s["error"] or s["summary"]
            table.add_row(s["name"], s["status"], f"{s['score']:.2f}", f"{s['rule_score']:.2f}", escape(summary))
        console.print(table)
        for t in d.templates:
            console.print(f"template {t['name']}@{t['version']} similarity {t['similarity']:.2f}")


@fraud_app.command("pending")
def fraud_pending() -> None:
    """Cases paused for an analyst."""
    from tasks.fraud.review import awaiting_review

    table = Table("case", "risk", "waiting since", "run")
    for check in awaiting_review():
        table.add_row(
            str(check.claim_id), f"{check.risk or 0:.2f}", f"{check.updated_at:%Y-%m-%d %H:%M}", check.flow_run_id or ""
        )
    console.print(table)


@fraud_app.command("decide")
def fraud_decide(
    case: Annotated[int, typer.Option("--case", help="The paused case")],
    outcome: Annotated[str, typer.Option(help=OUTCOME_HELP)],
    analyst: Annotated[str, typer.Option(help="Your name, recorded with the decision")],
    note: Annotated[str, typer.Option(help="Why; kept in the audit trail")] = "",
) -> None:
    """Answer a paused fraud check (the same form as the UI's Resume)."""
    require_prefect_server()
    from tasks.fraud.review import ReviewError, review_input, submit_review

    try:
        run_id, run_input = review_input(case, outcome, analyst, note)
        asyncio.run(submit_review(run_id, run_input))
    except ReviewError as exc:
        raise fail(escape(str(exc))) from None
    console.print(f"case {case}: {outcome} by {analyst} sent to run {run_id}")
