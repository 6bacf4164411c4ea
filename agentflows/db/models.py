"""Every table module, imported once so `Base.metadata` knows the whole schema (Alembic, tests)."""

from agentflows.db import crm  # noqa: F401
from agentflows.db import webhooks  # noqa: F401
from agentflows.db import fraud  # noqa: F401
