"""agentflows: agentic AI workflows as Prefect 3 flows. Shared plumbing lives in this package:
settings, the database, the CLI, the SMTP sink and the local Prefect server helpers."""
