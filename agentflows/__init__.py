"""agentflows: agentic AI workflows as Prefect 3 flows. Shared plumbing lives in this package:
settings, the database, the CLI, the SMTP sink and the local Prefect server helpers."""

from agentflows.redaction import install as _install_log_masking

# Every process that imports the project masks its logs, including the processes Prefect's runner and
# workers spawn for each flow run, which never call `configure_prefect_env()` (see agentflows/redaction.py).
_install_log_masking()
