"""Fake-provider responders that answer the project's agents the way a cooperative model would.

`offline_responder` gives the offline model's (grounded, valid) answer through the real wire
formats, so the same flows run through the OpenAI and Anthropic SDKs end to end.
"""

from __future__ import annotations

from agentflows_fake_provider import FakeReply, FakeRequest

import agents.catalog  # noqa: F401  (fills the offline model's composers in this process)
from agents.offline import compose


def offline_responder(request: FakeRequest) -> FakeReply:
    """Call the output tool with the answer the offline model would give for this prompt."""
    output_tools = [t for t in request.tools if t.name.startswith("final_result")]
    if not output_tools:
        return FakeReply(text="ok")
    return FakeReply(tool_calls=[(output_tools[0].name, compose(request.last_user_text))])
