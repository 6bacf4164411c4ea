"""Point Prefect at the project's server before Prefect is imported.

Prefect reads its settings from the environment once, at import; so the CLI calls
`configure_prefect_env()` first thing, and every later `import prefect` sees the same server,
home directory and analytics switch. Variables the user already set win. It also installs the
log masking of `agentflows.redaction` (emails, secrets), so the log lines Prefect's handlers print
and ship to the server are masked in every process that configures Prefect this way.
"""

from __future__ import annotations

import os

from agentflows import prefect_auth, redaction
from agentflows.settings import Settings, get_settings


def prefect_env(settings: Settings | None = None) -> dict[str, str]:
    """The Prefect variables for this project's local server (without overriding the user's)."""
    settings = settings or get_settings()
    env = {
        "PREFECT_API_URL": settings.prefect_api_url,
        "PREFECT_HOME": str(settings.prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_URL": settings.prefect_api_url.removesuffix("/api"),
        "PREFECT_LOGGING_LEVEL": "INFO",
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
    }
    return {k: v for k, v in env.items() if k not in os.environ}


def configure_prefect_env(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    os.environ.update(prefect_env(settings))
    prefect_auth.apply_client_env(prefect_auth.for_clients(settings))  # basic auth, when the server wants it
    redaction.install(settings)


def prefect_ui_url() -> str:
    """The Prefect UI's address: PREFECT_UI_URL, else derived from PREFECT_API_URL (as Prefect does), else ours."""
    if url := os.environ.get("PREFECT_UI_URL"):
        return url.rstrip("/")
    api = os.environ.get("PREFECT_API_URL") or get_settings().prefect_api_url
    return api.rstrip("/").removesuffix("/api")


def flow_run_url(flow_run_id: object) -> str:
    """The run's page in the Prefect UI (where its Resume form is): every link we print or log is this one."""
    return f"{prefect_ui_url()}/runs/flow-run/{flow_run_id}"


def artifact_url(artifact_id: object) -> str:
    """An artifact's own page in the Prefect UI (this version of it, not the latest under its key)."""
    return f"{prefect_ui_url()}/artifacts/artifact/{artifact_id}"
