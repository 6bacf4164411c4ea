"""The deployments the webhooks start, by their Prefect names (`<flow>/<deployment>` in prefect.yaml).

Their own module because the routes choose one per source, the receiver treats landing plans
apart (`plan_url`, `GET /plans/...`), and tests look runs up by these names.
"""

OUTREACH = "prospect-outreach/on-demand"
FRAUD_CHECK = "fraud-check/on-demand"
LANDING_PLAN = "landing-plan/on-demand"
APPROVAL = "outreach-approval/on-demand"  # started by an outreach run, one per prospect
