"""Masking personal data and secrets in log records, before any handler sees them.

Log lines end up in places people browse freely: the Prefect UI (shipped by Prefect's API log
handler), terminals, `.agentflows/logs/`. So every record is masked when it is created:

- email addresses keep their first character and their domain: `a***@example.com`;
- secret shapes: `sk-...` / `sk-ant-...` API keys, `whsec_...` webhook secrets, `Bearer ...`
  tokens, `x-api-key: ...` headers and the password of `scheme://user:password@host` URLs;
- the values of every secret the settings hold (API keys, webhook secrets, SMTP and database
  passwords), whatever their shape.

`install()` puts the masking into logging's record factory, so it covers every logger and every
handler, including handlers created after it ran (Prefect configures its handlers when `prefect`
is imported, after `agentflows.prefect_env.configure_prefect_env()`), with the secrets of the
settings in use when the record is made. `RedactingFilter` applies the same masking as an
ordinary `logging.Filter`, for a handler configured elsewhere (e.g. in a `logging.yml` given to
Prefect through `PREFECT_LOGGING_SETTINGS_PATH`).

Only shapes can be masked: free text such as a claim's message cannot be recognised, so the code
never logs it (the payloads of flows live in artifacts and the database, not in log lines).
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from agentflows.settings import Settings, get_settings

MASK = "***"

# `user:password@` in a URL (SMTP, database, proxies): keep the user, mask the password.
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@]*:)(?P<password>[^\s/@]+)(?P<at>@)")
_SECRET_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?P<prefix>sk-(?:ant-|proj-|svcacct-)?)[A-Za-z0-9_-]{8,}"), r"\g<prefix>" + MASK),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=_-]{8,}"), "whsec_" + MASK),
    (re.compile(r"(?i)\b(?P<prefix>bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\g<prefix>" + MASK),
    (
        re.compile(r"(?i)(?P<prefix>\bx-api-key['\"]?\s*[:=]\s*['\"]?)[^\s'\",;}]{8,}"),
        r"\g<prefix>" + MASK,
    ),
)
# The first character is never `%`: a format string such as "%s@example.com" must stay a format string.
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])(?P<first>[A-Za-z0-9_+-])[A-Za-z0-9._%+-]*@(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
)
_SCALARS = (int, float, bool, type(None))

_known: set[str] = set()
_known_lock = threading.Lock()
_known_pattern: re.Pattern[str] | None = None


def register_secrets(values: Iterable[str | None]) -> None:
    """Mask these exact values too (and their URL-encoded forms), whatever their shape."""
    global _known_pattern
    fresh = {v for value in values if value and len(value) >= 6 for v in (value, quote(value, safe=""))}
    with _known_lock:
        if fresh <= _known:
            return
        _known.update(fresh)
        ordered = sorted(_known, key=len, reverse=True)  # longest first: a value containing another wins
        _known_pattern = re.compile("|".join(re.escape(v) for v in ordered))


def settings_secrets(settings: Settings) -> list[str]:
    """Every secret value the settings hold: API keys, webhook secrets, passwords inside URLs."""
    keys = (settings.openai_api_key, settings.anthropic_api_key, settings.prefect_auth_string)
    values = [s.get_secret_value() for s in keys if s]
    for source in ("crm", "shop", "landing"):
        values += [s.get_secret_value() for s in getattr(settings, f"webhook_secret_{source}")]
    for url in (settings.smtp_url, settings.database_url, settings.prefect_database_url):
        password = urlsplit(url).password if url else None
        if password:
            values += [password, unquote(password)]
    return values


def redact(text: str) -> str:
    """`text` with known secrets, secret shapes and email addresses masked."""
    if _known_pattern is not None:
        text = _known_pattern.sub(MASK, text)
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}{m['at']}", text)
    for pattern, replacement in _SECRET_SHAPES:
        text = pattern.sub(replacement, text)
    return _EMAIL.sub(lambda m: f"{m['first']}{MASK}@{m['domain']}", text)


def scrub(value: Any, settings: Settings | None = None) -> Any:
    """`value` (text, or JSON-like lists and dicts of it) with the settings' secrets and secret shapes masked.

    For text that leaves through other doors than logging: a provider's error body that echoes the
    credential it received would otherwise travel on into state messages, artifacts and the database.
    """
    register_secrets(settings_secrets(settings or get_settings()))
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: scrub(item, settings) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(item, settings) for item in value]
    return value


def _redact_arg(value: Any) -> Any:
    """A log argument with its text masked; unchanged (same type, same `%d`) when nothing needs masking."""
    if isinstance(value, _SCALARS):
        return value
    text = value if isinstance(value, str) else str(value)
    masked = redact(text)
    return value if masked == text else masked


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask a record in place: its message, its arguments and the text of its exception."""
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    elif not record.args:
        record.msg = _redact_arg(record.msg)
    if isinstance(record.args, Mapping):
        record.args = {key: _redact_arg(value) for key, value in record.args.items()}
    elif isinstance(record.args, tuple):
        record.args = tuple(_redact_arg(value) for value in record.args)
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        # Formatters reuse `exc_text` when it is set, so the traceback they print is the masked one.
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


class RedactingFilter(logging.Filter):
    """A logging filter that masks (never drops) records; see the module docstring."""

    def filter(self, record: logging.LogRecord) -> bool:
        _register_current_settings()
        redact_record(record)
        return True


_install_lock = threading.Lock()
_installed: Any = None  # the factory `install()` put in place
_previous_factory: Any = None
_settings_seen: Settings | None = None
_reading_settings = threading.local()


def _register_current_settings() -> None:
    """Register the secrets of the settings in use (re-read after `get_settings.cache_clear()`)."""
    global _settings_seen
    if getattr(_reading_settings, "active", False):  # a record made while reading the settings
        return
    _reading_settings.active = True
    try:
        settings = get_settings()
        if settings is not _settings_seen:
            register_secrets(settings_secrets(settings))
            _settings_seen = settings
    except Exception:  # invalid settings: the shapes are still masked, and the error surfaces elsewhere
        return
    finally:
        _reading_settings.active = False


def install(settings: Settings | None = None) -> None:
    """Mask every log record of this process from now on (idempotent).

    The secrets of the settings in use are registered when a record is made, so settings read
    after this call (or changed since) are covered too; `settings` adds the secrets of another
    settings object. Safe at import time: it reads no settings itself unless given some.
    """
    global _installed, _previous_factory
    if settings is not None:
        register_secrets(settings_secrets(settings))
    with _install_lock:
        if _installed is not None:
            return
        previous = logging.getLogRecordFactory()

        def masking_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _register_current_settings()
            try:
                return redact_record(record)
            except Exception:  # an argument whose str() fails: logging reports that at emit, as usual
                return record

        logging.setLogRecordFactory(masking_factory)
        _installed, _previous_factory = masking_factory, previous


def installed() -> bool:
    """Whether the masking is active in this process."""
    return _installed is not None and logging.getLogRecordFactory() is _installed


def uninstall() -> None:
    """Stop masking (tests: leave the process as it was found)."""
    global _installed
    with _install_lock:
        if _installed is not None and logging.getLogRecordFactory() is _installed:
            logging.setLogRecordFactory(_previous_factory)
        _installed = None
