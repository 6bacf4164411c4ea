"""Every agent module, imported once so the offline model knows each agent's composer."""

from agents.landing import planner  # noqa: F401
from agents.outreach import researcher, router, writers  # noqa: F401
