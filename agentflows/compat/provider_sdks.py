"""What agentflows relies on in the provider SDKs (openai 3.x, anthropic 2.x) and in how pydantic-ai drives them.

Contract tests: `tests/compat/test_provider_sdks_compat.py`.
"""

from __future__ import annotations

from typing import Any

RETRY_COUNT_HEADER = "x-stainless-retry-count"
"""Both SDKs number each HTTP attempt of one request in this header: `0`, then `1`, `2`, ... per retry.

Not a documented API: `agents.models.track_attempts` reads it from an httpx request hook so an error
message says how many attempts the SDK really made (a 400 is sent once, a 503 up to `max_retries + 1`
times). Unknown or absent counts as a first attempt.
"""


def retries_taken(request: Any) -> int:
    """How many retries preceded this attempt of a request (an httpx request the SDK is about to send)."""
    try:
        return max(0, int(request.headers.get(RETRY_COUNT_HEADER, "0")))
    except ValueError:
        return 0


def plain_anthropic_settings(max_tokens: int) -> Any:
    """Model settings that keep pydantic-ai's `AnthropicModel` on plain (non-streaming) requests.

    pydantic-ai 2.62 streams a request behind the scenes when `max_tokens` is *not* in the model settings
    and its default (the model's whole output window, 64,000 for claude-sonnet-4-5) is above the SDK's
    non-streaming limit (~21,333) with a custom timeout; with `max_tokens` set it sends a plain request.
    """
    from pydantic_ai.models.anthropic import AnthropicModelSettings

    return AnthropicModelSettings(max_tokens=max_tokens)
