"""Every agent in one table: the composer the offline model answers each agent's prompts with.

The offline model (`agents.offline`) imports no agent, since every agent module builds its agent
through `agents.durable`, which builds the offline model. This module, above all agent modules,
is the one place that imports them all: it lists their composers, keyed by the name their prompts
are written for (`render_prompt(..., agent, ...)`), and fills the offline model's registry with
them. `tasks.generation`, which runs every agent, imports it; so do the fake provider's responders.
"""

from collections.abc import Mapping
from types import MappingProxyType

from agents import offline
from agents.durable import clear_agent_caches
from agents.fraud import address, conversation, customer, orchestrator, payment, return_distance, tracking
from agents.landing import planner
from agents.outreach import researcher, router, writers

COMPOSERS: Mapping[str, offline.Composer] = MappingProxyType(
    {
        address.NAME: address.compose_offline,
        conversation.NAME: conversation.compose_offline,
        customer.NAME: customer.compose_offline,
        orchestrator.NAME: orchestrator.compose_offline,
        payment.NAME: payment.compose_offline,
        return_distance.NAME: return_distance.compose_offline,
        tracking.NAME: tracking.compose_offline,
        planner.NAME: planner.compose_offline,
        researcher.NAME: researcher.compose_offline,
        router.NAME: router.compose_offline,
        writers.NAME: writers.compose_offline,
    }
)

offline.composers.fill(COMPOSERS)

__all__ = ["COMPOSERS", "clear_agent_caches"]
