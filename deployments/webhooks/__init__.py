"""The webhook receiver: signed deliveries from the CRM, the shop and the landing page -> flow runs.

Open-source Prefect has no webhook endpoint, so this small FastAPI app is the door in. A delivery
passes four gates, each with its own answer, and nothing is written before all have passed:

  1. size: at most `webhook_max_body_bytes`, enforced while reading the body        -> 413
  2. signature: Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`,
     HMAC-SHA256, 5-minute window), verified on the raw bytes by the `standardwebhooks` library
     against every secret of the source (rotation)                                  -> 401
  3. payload: JSON validated by the source's pydantic model, extra fields ignored  -> 400 / 422
  4. idempotency: (source, webhook-id) is claimed in `webhook_deliveries` under a unique constraint
     before the run is created (with the delivery as Prefect's idempotency key); a copy of a
     delivery gets the same run and ticket, never a second run                    -> 202

The row is also a durable queue: the answer waits for Prefect at most `webhook_answer_within_s`,
then says `queued` with a status URL, and the run is created in order behind it (a burst above
what Prefect creates per second costs senders no timeouts and retries; a receiver that dies leaves
queued rows that the next receiver's recovery sweep starts).

Rejections are logged as one line with the reason and never the body, and payloads are never
logged at all: they carry personal data. Run: `agentflows up` (or
`uvicorn --factory deployments.webhooks.app:create_app`).

The modules, in the order a delivery meets them:

  payloads          the sources' JSON bodies and the receiver's answers (API schemas, apart from tables)
  verification      gates 1-3: size, signature, payload; the one rejection helper that logs why
  store             gate 4 and the durable queue: the `webhook_deliveries` rows, read and written
  receiver          deliveries -> flow runs through the Prefect API: dispatch, retries, recovery sweep
  routes            one router per source; dependencies as `Annotated` aliases
  app               `create_app()`: the FastAPI app, its secrets and Prefect client set up at startup
  deployment_names  the deployments the webhooks start
"""

from deployments.webhooks.app import create_app
from deployments.webhooks.deployment_names import FRAUD_CHECK, LANDING_PLAN, OUTREACH

__all__ = ["FRAUD_CHECK", "LANDING_PLAN", "OUTREACH", "create_app"]
