"""Where each webhook source's signing secrets come from, in order:

1. settings: `AGENTFLOWS_WEBHOOK_SECRET_CRM` / `_SHOP` / `_LANDING` (comma-separated = rotation);
2. a Prefect Secret block named `agentflows-webhook-secret-crm` (`-shop`, `-landing`), same format;
3. development secrets that `agentflows up` generated because neither was set, kept in
   `<data_dir>/webhook-secrets.json` (mode 0600) so restarts and `agentflows webhook sign` agree.

Secrets are Standard Webhooks secrets: `whsec_` + base64 of 24-64 random bytes. With several,
any of them verifies a delivery and the first one signs (`agentflows webhook sign`): put the new
secret first when rotating, drop the old one once every sender uses the new one.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path

from agentflows.settings import Settings, get_settings

SOURCES = ("crm", "shop", "landing")


def block_name(source: str) -> str:
    return f"agentflows-webhook-secret-{source}"


def dev_secrets_path(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).data_dir / "webhook-secrets.json"


def generate_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def split_secrets(value: object) -> list[str]:
    """A block's value as a list: a comma-separated string or a JSON list of strings."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [str(part).strip() for part in value if str(part).strip()]
    return []


def from_settings(settings: Settings, source: str) -> list[str]:
    return [s.get_secret_value() for s in getattr(settings, f"webhook_secret_{source}")]


def from_block(source: str) -> list[str]:
    """The Prefect Secret block's secrets for `source`, or [] when no such block exists."""
    from prefect.blocks.system import Secret

    try:
        block = Secret.load(block_name(source))
    except ValueError:  # Prefect's "Unable to find block document named ..."
        return []
    return split_secrets(block.get())


def from_dev_file(settings: Settings, source: str) -> list[str]:
    path = dev_secrets_path(settings)
    if not path.exists():
        return []
    return split_secrets(json.loads(path.read_text()).get(source, []))


def resolve(settings: Settings | None = None, *, use_blocks: bool = True) -> dict[str, list[str]]:
    """Each source's secrets from the first place that has any (see the module docstring)."""
    settings = settings or get_settings()
    resolved: dict[str, list[str]] = {}
    for source in SOURCES:
        found = from_settings(settings, source) or (from_block(source) if use_blocks else [])
        resolved[source] = found or from_dev_file(settings, source)
    return resolved


def ensure_dev_secrets(settings: Settings | None = None, *, use_blocks: bool = True) -> dict[str, str]:
    """Generate (once) and store a development secret for every source that has none; returns the new ones."""
    settings = settings or get_settings()
    path = dev_secrets_path(settings)
    stored: dict[str, list[str]] = json.loads(path.read_text()) if path.exists() else {}
    generated: dict[str, str] = {}
    for source in SOURCES:
        if from_settings(settings, source) or stored.get(source) or (use_blocks and from_block(source)):
            continue
        generated[source] = generate_secret()
        stored[source] = [generated[source]]
    if generated:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            json.dump(stored, file, indent=2)
    return generated
