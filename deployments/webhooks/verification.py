"""Gates 1-3 of a delivery: size, signature, payload; each refusal logged as one line, never the body.

Apart from the routes so that every check reads on its own and the log line of a rejection (the
reason, the source, a bounded and escaped `webhook-id`, never the body or a secret) is written in
one place: `rejected`, which the receiver also uses for a reused id (409).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from pydantic import BaseModel, ValidationError
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

log = logging.getLogger("agentflows.webhooks")
PayloadT = TypeVar("PayloadT", bound=BaseModel)


@dataclass(frozen=True)
class Delivery:
    """A delivery whose size and signature checked out; the body is not parsed yet."""

    source: str
    id: str
    body: bytes

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def printable(value: str | None) -> str:
    """A header value safe to put in a log line (attacker-controlled: no newlines, bounded)."""
    return repr((value or "-")[:80])


def rejected(status: int, source: str, delivery_id: str | None, reason: str, detail: Any) -> HTTPException:
    log.warning("rejected %s delivery %s: %s %s", source, printable(delivery_id), status, reason)
    return HTTPException(status_code=status, detail=detail)


async def read_body(request: Request, source: str, limit: int) -> bytes:
    """The raw body, refusing to buffer more than `limit` bytes whatever Content-Length claims."""
    delivery_id = request.headers.get("webhook-id")
    declared = request.headers.get("content-length")
    too_large = f"body larger than {limit} bytes"
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise rejected(413, source, delivery_id, "oversize (declared)", too_large)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise rejected(413, source, delivery_id, "oversize", too_large)
    return bytes(body)


def verify(source: str, verifiers: list[Webhook], body: bytes, headers: dict[str, str]) -> str:
    """The delivery id if any of the source's secrets signed this body; raises a 401 otherwise."""
    delivery_id = headers.get("webhook-id")
    if not verifiers:
        raise rejected(503, source, delivery_id, "no secret configured", f"webhook source {source!r} is not configured")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise rejected(400, source, delivery_id, "body is not UTF-8", "body must be UTF-8 JSON") from None
    reason = "no secret"
    for verifier in verifiers:
        try:
            verifier.verify(text, headers, json_parse=False)
        except (WebhookVerificationError, ValueError) as exc:  # ValueError: malformed signature header
            reason = str(exc) or type(exc).__name__
            continue
        assert delivery_id  # the library checked it is present
        if len(delivery_id) > 200:
            raise rejected(400, source, delivery_id, "webhook-id too long", "webhook-id longer than 200 characters")
        return delivery_id
    raise rejected(401, source, delivery_id, f"signature: {reason}", "invalid webhook signature")


def parse(model: type[PayloadT], delivery: Delivery) -> PayloadT:
    """The payload as `model`; 400 for malformed JSON, 422 with the field errors otherwise."""
    try:
        return model.model_validate_json(delivery.body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        if any(e["type"] == "json_invalid" for e in errors):
            raise rejected(400, delivery.source, delivery.id, "malformed JSON", "body is not valid JSON") from None
        fields = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors]
        raise rejected(422, delivery.source, delivery.id, f"payload: {len(fields)} field errors", fields) from None
