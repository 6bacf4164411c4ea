"""`agentflows` commands for the fraud check (registered on the main app at import)."""
