"""`agentflows` commands for triggers: `up`, `webhook sign`, `deployments` (registered at import)."""
