"""The project database: typed SQLAlchemy 2 models, sessions and Alembic migrations."""

from agentflows.db.base import Base
from agentflows.db.session import get_engine, session_scope

__all__ = ["Base", "get_engine", "session_scope"]
