"""Prefect's basic auth for the stack: who may use the Prefect API (and so approve, send, read drafts).

Prefect 3.9 checks one shared string: the server refuses every API request (401) whose
`Authorization: Basic <base64>` does not decode to `PREFECT_SERVER_API_AUTH_STRING`, except
`GET /api/health` and `/api/ready`; every client (CLI, runner, workers and their flow runs, the
webhook receiver) sends `PREFECT_API_AUTH_STRING`. The UI then shows a Login page with one field
(placeholder `admin:pass`) that takes the whole string and keeps it in the browser's local storage.

The string comes from `AGENTFLOWS_PREFECT_AUTH_STRING` (or either Prefect variable), else from the
file `<data_dir>/prefect-auth` (mode 0600, next to the development webhook secrets) that
`agentflows up --generate-auth` writes once. On loopback none is needed; beyond loopback `up`
refuses to start the server without one, because anyone who reaches the API can approve and send.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

from agentflows import redaction
from agentflows.settings import Settings

AUTH_FILE = "prefect-auth"
USER = "agentflows"


class PrefectAuthError(RuntimeError):
    """Binding beyond loopback without an auth string; the message says what to set."""


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host` (a wildcard such as 0.0.0.0 is every interface)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: whatever it resolves to, it is meant to be reached from elsewhere


def auth_path(settings: Settings) -> Path:
    return settings.data_dir / AUTH_FILE


def stored(settings: Settings) -> str | None:
    path = auth_path(settings)
    return (path.read_text().strip() or None) if path.is_file() else None


def auth_string(settings: Settings) -> str | None:
    """The auth string in use: the settings' (env, `.env`), else the stored one, else None."""
    if settings.prefect_auth_string and settings.prefect_auth_string.get_secret_value():
        return settings.prefect_auth_string.get_secret_value()
    return stored(settings)


def generate(settings: Settings) -> str:
    """A new `agentflows:<random>` string, written to `<data_dir>/prefect-auth` (0600, never printed)."""
    value = f"{USER}:{secrets.token_urlsafe(24)}"
    path = auth_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never overwrite one a browser already uses
    with os.fdopen(fd, "w") as file:
        file.write(value + "\n")
    return value


def for_server(settings: Settings, host: str, *, generate_missing: bool = False) -> str | None:
    """The auth string the Prefect server on `host` requires, or None on loopback without one.

    Raises `PrefectAuthError` beyond loopback when none is configured or stored and `generate_missing`
    is off: a clear refusal beats an API anyone on the network can use.
    """
    value = auth_string(settings)
    if value or is_loopback(host):
        return value
    if generate_missing:
        return generate(settings)
    raise PrefectAuthError(
        f"the Prefect server would listen on {host}, beyond this machine, with no authentication: anyone who "
        "reaches it could approve and send emails, read drafts and customers' data, and start runs. Set "
        "AGENTFLOWS_PREFECT_AUTH_STRING=user:password (or PREFECT_SERVER_API_AUTH_STRING), or run `agentflows up "
        f"--host {host} --generate-auth` to generate one, kept in {auth_path(settings)}; or bind to 127.0.0.1."
    )


def for_clients(settings: Settings) -> str | None:
    """The string this process's Prefect clients send: `PREFECT_API_AUTH_STRING` if set, else the settings',
    else the stored one, but only to this project's own server (never hand it to another server)."""
    if value := os.environ.get("PREFECT_API_AUTH_STRING"):
        return value
    if settings.prefect_auth_string and settings.prefect_auth_string.get_secret_value():
        return settings.prefect_auth_string.get_secret_value()
    ours = os.environ.get("PREFECT_API_URL", settings.prefect_api_url) == settings.prefect_api_url
    return stored(settings) if ours else None


def apply_client_env(value: str | None) -> None:
    """Make this process, and every child it starts, send `value`; mask it in logs.

    Prefect reads its settings at import: call this before anything imports Prefect.
    """
    if value:
        os.environ["PREFECT_API_AUTH_STRING"] = value
        redaction.register_secrets([value])
