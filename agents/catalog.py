"""Every agent module, imported once so the offline model knows each agent's composer."""

from agents.durable import clear_agent_caches
from agents.fraud import address, conversation, customer, orchestrator, payment, return_distance, tracking  # noqa: F401
from agents.landing import planner  # noqa: F401
from agents.outreach import researcher, router, writers  # noqa: F401

__all__ = ["clear_agent_caches"]
