"""Generate minimal valid (and deliberately invalid) instances of a JSON schema.

The fake provider's default responder must answer pydantic-ai's output tool (``final_result``) with arguments
that validate against the output model, without knowing the model in advance: all it has is the tool's
``parameters`` JSON schema. Pydantic's generated schemas use a small subset of JSON Schema (objects,
``$ref``/``$defs``, ``anyOf`` for unions and ``Optional``, ``enum``/``const`` for ``Literal``, numeric and
length bounds), so this generator covers that subset and nothing more. It is a test helper, not a general JSON
Schema implementation.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["SchemaError", "example_from_schema", "invalid_from_schema"]

_MAX_DEPTH = 32

_FORMAT_EXAMPLES: dict[str, str] = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "duration": "P1D",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "hostname": "example.com",
}


class SchemaError(ValueError):
    """Raised when a schema uses a construct the generator can't satisfy (e.g. a dangling ``$ref``)."""


def _resolve_ref(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    """Follow a local JSON pointer such as ``#/$defs/Foo`` (pydantic never emits remote refs)."""
    if not ref.startswith("#"):
        raise SchemaError(f"only local $ref is supported, got {ref!r}")
    node: Any = root
    for token in ref.lstrip("#").strip("/").split("/"):
        if not token:
            continue
        token = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or token not in node:
            raise SchemaError(f"dangling $ref {ref!r}")
        node = node[token]
    if not isinstance(node, dict):
        raise SchemaError(f"$ref {ref!r} does not point at a schema object")
    return node


def _deref(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Inline ``$ref`` and merge ``allOf`` so the caller only sees one flat schema node."""
    seen = 0
    while "$ref" in schema:
        seen += 1
        if seen > _MAX_DEPTH:
            raise SchemaError("$ref cycle without a terminating schema")
        target = _resolve_ref(schema["$ref"], root)
        # Sibling keywords next to $ref (allowed since draft 2019-09) override the target's.
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    if "allOf" in schema:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for sub in schema["allOf"]:
            sub = _deref(sub, root)
            for key, value in sub.items():
                if key == "properties":
                    merged["properties"] = {**merged.get("properties", {}), **value}
                elif key == "required":
                    merged["required"] = [*merged.get("required", []), *value]
                else:
                    merged.setdefault(key, value)
        schema = merged
    return schema


def _schema_type(schema: dict[str, Any]) -> str | None:
    """The single type to generate: the first non-null entry of ``type``, or one implied by other keywords."""
    typ = schema.get("type")
    if isinstance(typ, list):
        non_null = [t for t in typ if t != "null"]
        return non_null[0] if non_null else "null"
    if isinstance(typ, str):
        return typ
    if "properties" in schema or "required" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    return None


def _example_string(schema: dict[str, Any]) -> str:
    fmt = schema.get("format")
    value = _FORMAT_EXAMPLES.get(fmt, "example") if isinstance(fmt, str) else "example"
    min_len = int(schema.get("minLength", 0))
    max_len = schema.get("maxLength")
    if len(value) < min_len:
        value = value + "x" * (min_len - len(value))
    if max_len is not None and len(value) > int(max_len):
        value = "x" * max(int(max_len), min_len)
    return value


def _example_number(schema: dict[str, Any], *, integer: bool) -> int | float:
    """The value closest to zero inside the schema's bounds (rounded up to ``multipleOf``)."""
    step = 1.0 if integer else 1e-6
    low = float(schema["minimum"]) if "minimum" in schema else -math.inf
    high = float(schema["maximum"]) if "maximum" in schema else math.inf
    excl_min = schema.get("exclusiveMinimum")
    if isinstance(excl_min, int | float) and not isinstance(excl_min, bool):
        low = max(low, float(excl_min) + step)
    excl_max = schema.get("exclusiveMaximum")
    if isinstance(excl_max, int | float) and not isinstance(excl_max, bool):
        high = min(high, float(excl_max) - step)
    value = min(max(0.0, low), high)
    multiple = schema.get("multipleOf")
    if multiple:
        value = math.ceil(value / float(multiple)) * float(multiple)
    if integer:
        candidate = math.ceil(value)
        return int(candidate if candidate <= high else math.floor(value))
    return value


def _example(schema: Any, root: dict[str, Any], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise SchemaError("schema nesting too deep (recursive model with a required self-reference?)")
    if schema is True or schema == {}:
        return "example"
    if not isinstance(schema, dict):
        raise SchemaError(f"not a schema: {schema!r}")
    schema = _deref(schema, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if branches:
            # Prefer a non-null branch: `Optional[X]` is `anyOf: [X, null]` and a value is more useful than
            # None.
            non_null = [b for b in branches if not (isinstance(b, dict) and b.get("type") == "null")]
            return _example((non_null or branches)[0], root, depth + 1)
    typ = _schema_type(schema)
    if typ == "object":
        props: dict[str, Any] = schema.get("properties", {})
        out: dict[str, Any] = {}
        for name in schema.get("required", []):
            out[name] = _example(props.get(name, {}), root, depth + 1)
        return out
    if typ == "array":
        min_items = int(schema.get("minItems", 0))
        prefix = schema.get("prefixItems") or []
        items: list[Any] = [_example(p, root, depth + 1) for p in prefix]
        item_schema = schema.get("items", {})
        while len(items) < min_items:
            items.append(_example(item_schema, root, depth + 1))
        if schema.get("uniqueItems") and len(items) > 1:
            # Minimal instances of the same schema coincide; make scalar strings/numbers distinct.
            items = [_make_distinct(v, i) for i, v in enumerate(items)]
        return items
    if typ == "string":
        return _example_string(schema)
    if typ == "integer":
        return _example_number(schema, integer=True)
    if typ == "number":
        return _example_number(schema, integer=False)
    if typ == "boolean":
        return False
    if typ == "null":
        return None
    return "example"


def _make_distinct(value: Any, index: int) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return f"{value}{index}" if index else value
    if isinstance(value, int | float):
        return value + index
    return value


def example_from_schema(schema: dict[str, Any]) -> Any:
    """Return a minimal instance of ``schema``: required fields only, lower bounds, first enum/branch.

    Good enough for pydantic-generated schemas; raises :class:`SchemaError` for unsupported constructs instead
    of silently producing something that would fail validation in a confusing way.
    """
    return _example(schema, schema, 0)


def _wrong_value(schema: Any, root: dict[str, Any]) -> Any:
    """A value of the wrong JSON type for ``schema`` that pydantic's lax mode still rejects."""
    if not isinstance(schema, dict):
        return {"unexpected": True}
    schema = _deref(schema, root)
    if "anyOf" in schema or "oneOf" in schema:
        # Some branch may accept almost anything; a nested list of objects is rejected by every scalar branch.
        return [{"unexpected": [1, 2]}]
    typ = _schema_type(schema)
    if typ in ("string", None) or "enum" in schema or "const" in schema:
        return {"unexpected": "object instead of string"}
    if typ in ("integer", "number"):
        return "not-a-number"
    if typ == "boolean":
        return "definitely-not-a-boolean"
    if typ == "array":
        return 12345
    if typ == "object":
        return "not-an-object"
    return {"unexpected": True}


def invalid_from_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Return an object that parses as JSON but fails validation against ``schema``.

    Used for the ``invalid_json`` fault on Anthropic, whose ``tool_use.input`` must be a JSON object on the
    wire (so truly malformed JSON can't be sent); giving every property a wrong-typed value makes
    pydantic-ai's output validation fail all the same. If the schema has no properties, a required-looking key
    with a wrong-typed value is still returned; the caller can fall back to malformed JSON where the wire
    format allows it.
    """
    root = schema
    schema = _deref(schema, root)
    props: dict[str, Any] = schema.get("properties", {})
    if not props:
        return {"__fake_invalid__": [{"unexpected": True}]}
    return {name: _wrong_value(sub, root) for name, sub in props.items()}
