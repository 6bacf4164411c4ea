"""Landing-page plan: a visitor's form -> website + CRM match -> a typed `MarketingPlan`, fast.

Run it from the landing page's webhook (`POST /webhooks/landing/form-submitted?wait=10` answers
with the plan when it is ready in time) or from the Prefect UI ("Run" on `landing-plan/on-demand`).

The story:
  1. fetch the visitor's website, find their company in the CRM by email domain and resolve the
     run's workspace, all three concurrently (a dead or non-public site is noted in the plan, not
     fatal; the workspace read hides behind the fetch, so this real-time path pays nothing for it)
  2. the planner, as the workspace's `agents/landing-planner.yaml` configures it, writes the plan
     from those facts and the seller's knowledge that fits the visitor, every channel idea citing
     the facts it rests on
  3. the plan is stored with the workspace version for `GET /plans/{flow_run_id}` and shown as an artifact
"""

from __future__ import annotations

import asyncio

from prefect import flow, task
from prefect.artifacts import acreate_markdown_artifact
from prefect.runtime import flow_run as current_flow_run
from sqlalchemy import func, select

from agentflows import run_milestones
from agentflows.db import session_scope
from agentflows.db.crm import Account, Contact, Deal, DealStage
from agentflows.db.webhooks import LandingPlan
from agentflows.markdown import md_cell, md_code, md_table, md_text, source_cell
from agentflows.prompt_caps import capped_each, capped_fields
from agentflows.settings import get_settings
from agentflows.workspace_context import using_workspace
from agents.durable import configured_model
from agents.landing import planner
from agents.landing.plan import CrmMatch, MarketingPlan, PlannerInput, Visitor
from agents.outreach.brief import WebFindings
from agents.prompting import render_prompt
from agents.workspace import Workspace
from tasks.crm import load_history_sync
from tasks.generation import history_caps, knowledge_caps, run_agent
from tasks.web import fetch_page_text
from tasks.workspace import use_workspace, workspace_at


@task(name="fetch-visitor-website", retries=0, timeout_seconds=30)
async def fetch_visitor_website(url: str) -> WebFindings:
    """The visitor's site through the guarded fetch: a site (or a redirect) pointing inside our network is
    refused at that hop and noted in the plan (`available=False` and why). `landing_allow_private_websites`
    (tests only) lets any host be private; `AGENTFLOWS_FETCH_ALLOW_HOSTS` names single hosts."""
    return await fetch_page_text(url, allow_private=get_settings().landing_allow_private_websites)


def match_account_sync(email: str) -> CrmMatch | None:
    """The CRM account of a known contact with exactly this email; anyone else gets no CRM data.

    The form is unauthenticated and the plan goes back to whoever submitted it, so matching on the
    email's domain alone would hand an account's products, deals and history to anyone typing
    `x@<customer domain>`. A known contact's address is a narrower door (still unverified: see README).
    """
    with session_scope() as session:
        contact = session.scalar(select(Contact).where(func.lower(Contact.email) == email.strip().lower()))
        account = session.get(Account, contact.account_id) if contact is not None else None
        if account is None:
            return None
        deals = list(session.scalars(select(Deal).where(Deal.account_id == account.id)))
    history = load_history_sync([account.id], limit=5).get(account.id, [])
    won = sorted({d.product for d in deals if d.stage == DealStage.WON})
    return CrmMatch(
        account_id=account.id,
        name=account.name,
        domain=account.domain,
        industry=account.industry,
        employees=account.employees,
        region=account.region,
        is_customer=bool(won),
        products_owned=won,
        open_deals=sum(1 for d in deals if d.stage == DealStage.OPEN),
        history=[h for h in history if h.ref.startswith("crm:activity")][:5],
    )


@task(name="match-crm-account", retries=2, retry_delay_seconds=1)
async def match_crm_account(email: str) -> CrmMatch | None:
    return await asyncio.to_thread(match_account_sync, email)


def _save_plan_sync(
    flow_run_id: str, plan: MarketingPlan, match: CrmMatch | None, model: str, workspace_version: str
) -> None:
    with session_scope() as session:
        if session.scalar(select(LandingPlan.id).where(LandingPlan.flow_run_id == flow_run_id)) is None:
            session.add(
                LandingPlan(
                    flow_run_id=flow_run_id,
                    company=plan.company[:200],
                    account_id=match.account_id if match else None,
                    model=model,
                    plan=plan.model_dump(mode="json"),
                    workspace_version=workspace_version,
                )
            )


@task(name="save-landing-plan", retries=2, retry_delay_seconds=1)
async def save_plan(
    flow_run_id: str, plan: MarketingPlan, match: CrmMatch | None, model: str, workspace_version: str
) -> None:
    """Keep the plan and the workspace version that wrote it for `GET /plans/{flow_run_id}` (idempotent per run)."""
    await asyncio.to_thread(_save_plan_sync, flow_run_id, plan, match, model, workspace_version)


def capped_input(data: PlannerInput) -> PlannerInput:
    """The planner's data with every untrusted field capped and the cut marked: the form's free-text fields,
    the CRM history and the knowledge sections (the page text is capped by the fetch; `agentflows.prompt_caps`)."""
    settings = get_settings()
    form = settings.prompt_cap_form_field
    crm = data.crm
    if crm is not None:
        crm = crm.model_copy(update={"history": capped_each(crm.history, history_caps())})
    return data.model_copy(
        update={
            "visitor": capped_fields(data.visitor, {"company": form, "role": form, "goals": form}),
            "crm": crm,
            "knowledge": capped_each(data.knowledge, knowledge_caps()),
        }
    )


async def write_plan(data: PlannerInput, workspace: Workspace) -> tuple[MarketingPlan, str]:
    """The planner's plan for `data` as `workspace` configures it, and the model spec that wrote it."""
    file = workspace.agent(planner.NAME)
    model = configured_model("planner", file.model)
    prompt = render_prompt("Write the marketing plan.", planner.NAME, "planner-input", capped_input(data))
    return await run_agent(planner.planner(file, model), prompt, deps=workspace.knowledge), model


def plan_markdown(plan: MarketingPlan, workspace_version: str | None = None) -> str:
    """The plan as the run's artifact; every text in it is model output grounded in an untrusted website."""
    ideas = "\n".join(
        f"{i}. **{md_cell(c.channel)}**: {md_cell(c.idea)} _({md_cell(c.rationale)}; facts "
        f"{md_cell(', '.join(c.facts_used))})_"
        for i, c in enumerate(plan.channel_ideas, start=1)
    )
    phases = "\n".join(
        f"- **{p.days} days**: {md_cell(p.focus)}: {'; '.join(md_cell(a) for a in p.actions)} "
        f"(metric: {md_cell(p.success_metric)})"
        for p in plan.plan
    )
    facts = md_table(["id", "fact", "source"], [(md_code(f.id), f.text, source_cell(f.source)) for f in plan.facts])
    caveats = "\n".join(f"- {md_cell(c)}" for c in plan.caveats)
    return (
        f"# Marketing plan for {md_cell(plan.company)}\n\n{md_text(plan.positioning)}\n\n## Channels\n{ideas}\n\n"
        f"## 30/60/90\n{phases}\n\n## Facts\n{facts}\n\n## Caveats\n{caveats}"
        + (f"\n\n_Workspace version {md_code(workspace_version)}._" if workspace_version else "")
    )


@flow(name="landing-plan", persist_result=True)
async def landing_plan(visitor: Visitor) -> MarketingPlan:
    """A marketing plan for a landing-page visitor, grounded in their site, our CRM and our knowledge."""
    settings = get_settings()
    flow_run_id = str(current_flow_run.id)
    web, match, version = await asyncio.gather(
        fetch_visitor_website(visitor.website), match_crm_account(visitor.email), use_workspace()
    )
    workspace = await asyncio.to_thread(workspace_at, version)
    data = planner.planner_input(
        visitor, web, match, workspace.knowledge, seller_company=settings.seller_company, offer=settings.seller_offer
    )
    with using_workspace(version):  # the usage rows of the planner's model requests record it
        plan, model = await write_plan(data, workspace)
    await save_plan(flow_run_id, plan, match, model, version)
    run_milestones.reach(flow_run_id, run_milestones.ANSWER_STORED)  # a visitor waiting in this process gets it now
    await acreate_markdown_artifact(
        markdown=plan_markdown(plan, version), key="landing-plan", description=md_cell(plan.company)
    )
    return plan
