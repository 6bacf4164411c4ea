"""Every agent module, imported once so the offline model knows each agent's composer."""

from agents.outreach import researcher, router, writers  # noqa: F401
