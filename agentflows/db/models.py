"""Every table module, imported once so `Base.metadata` knows the whole schema (Alembic, tests)."""

from agentflows.db import (
    crm,  # noqa: F401
    fraud,  # noqa: F401
    usage,  # noqa: F401
    webhooks,  # noqa: F401
    workspace,  # noqa: F401
)
