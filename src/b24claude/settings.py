"""Typed settings, read from ``B24C_*`` environment variables or a ``.env`` file.

Built only by entry points (CLI, demo, tests) and handed to :mod:`b24claude.bootstrap`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# The default urgent words (also the priority policy's default); kept here so settings import no domain.
DEFAULT_URGENT_WORDS = ("срочно", "срочная", "срочный", "немедленно", "авария", "urgent", "asap", "emergency")


class ModelPrice(BaseModel):
    """USD per million tokens. Cache writes/reads are priced as multipliers of ``input``."""

    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float


# Prices as of 2026-11 (reference/anthropic.md §7); keep them in settings, they change often.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    "claude-sonnet-5-5": ModelPrice(
        input=2, output=10, cache_write_5m=2.5, cache_write_1h=4, cache_read=0.10
    ),
    "claude-haiku-5-5": ModelPrice(
        input=0.10, output=0.50, cache_write_5m=0.125, cache_write_1h=0.20, cache_read=0.01
    ),
    "claude-opus-5-5": ModelPrice(input=4, output=20, cache_write_5m=5, cache_write_1h=8, cache_read=0.20),
    "claude-haiku-4-5": ModelPrice(input=1, output=5, cache_write_5m=1.25, cache_write_1h=2, cache_read=0.10),
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="B24C_", env_file=".env", extra="ignore", env_nested_delimiter="__"
    )

    # --- where we run -----------------------------------------------------------------------------
    public_url: str = Field(
        default="http://127.0.0.1:8080",
        description="The URL Bitrix24 reaches this service at (handler URLs are built from it).",
    )
    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = "sqlite+aiosqlite:///./b24claude.db"

    # --- Bitrix24 -----------------------------------------------------------------------------------
    b24_client_id: str = ""
    b24_client_secret: SecretStr = SecretStr("")
    b24_oauth_url: str = Field(
        default="https://oauth.bitrix.info",
        description="The OAuth server tokens are refreshed at (oauth.bitrix24.tech for .ru portals). "
        "Configuration only: a server_endpoint named by an event is compared with it, never called.",
    )
    b24_app_code: str = Field(
        default="",
        description="The CODE app.info names for this application (a Market app's code); empty: the "
        "client id (a local application's app.info CODE).",
    )
    b24_webhook_url: str = Field(default="", description="Incoming webhook URL (dev/scripts mode).")
    b24_rate_limit_per_s: float = 2.0
    b24_rate_burst: int = 50
    b24_max_wait_s: float = 30.0
    b24_timeout_s: float = 30.0
    bot_api: Literal["v1", "v2"] = Field(
        default="v2",
        description="v2 = imbot.v2 with eventMode fetch (no public URL needed, nothing lost); v1 = classic events.",
    )
    bot_code: str = "b24claude"
    bot_name: str = "Claude"
    v2_poll_interval_s: float = 2.0

    # --- Claude ------------------------------------------------------------------------------------
    anthropic_api_key: SecretStr = SecretStr("")
    anthropic_base_url: str = "https://api.anthropic.com"
    answer_model: str = "claude-sonnet-5-5"
    answer_max_tokens: int = 1024
    llm_timeout_s: float = 60.0
    llm_max_attempts: int = 4
    llm_max_retry_after_s: float = 20.0
    prices: dict[str, ModelPrice] = Field(default_factory=lambda: dict(DEFAULT_PRICES))

    # --- the answer ----------------------------------------------------------------------------------
    company_name: str = "Компания"
    persona: str = Field(
        default=(
            "Вы — вежливый ассистент компании в чате поддержки. Отвечайте кратко и по делу, "
            "на языке клиента, опираясь на базу знаний и данные CRM. Не выдумывайте фактов."
        )
    )
    default_language: Literal["ru", "en"] = "ru"
    history_turns: int = 10
    capture_contacts: bool = Field(
        default=True, description="Write phones/e-mails customers give in chat into the bound CRM card."
    )
    knowledge_dir: str = ""

    # --- processing ----------------------------------------------------------------------------------
    worker_concurrency: int = 8
    inbox_max_attempts: int = 8
    max_body_bytes: int = 1_000_000
    log_level: str = "INFO"
    log_message_text: bool = Field(
        default=False,
        description="Service-wide default for logging message text (PII-masked even then); portals override.",
    )
    log_format: Literal["json", "console"] = "json"
    log_dir: str = Field(
        default="",
        description="When set, logs are also written as <log_dir>/<member_id or _service>/<YYYY-MM-DD>.jsonl "
        "(per-portal retention purges these files).",
    )

    # --- scale-out (empty URLs = the embedded default: one process, in-memory equivalents) ----------
    broker_url: str = Field(
        default="",
        description="RabbitMQ (amqp://user:pass@host:5672/vhost) as the task broker; then `b24claude serve` "
        "only accepts events and `b24claude worker` processes (any number) answer them.",
    )
    broker_queue: str = Field(default="b24claude.inbox", description="RabbitMQ queue (and exchange) name.")
    redis_url: str = Field(
        default="",
        description="Redis (redis://host:6379/0) for what processes share: caches and the per-portal "
        "Bitrix24 rate-limit bucket.",
    )
    redis_prefix: str = Field(default="b24c:", description="Prefix of every Redis key of this deployment.")
    lease_s: float = Field(
        default=60.0,
        description="A worker's claim on an inbox row lasts this long unless renewed (every third of it); "
        "a killed worker's rows are taken back after it.",
    )
    feeder_interval_s: float = Field(
        default=1.0, description="How often a worker looks for expired leases and unannounced rows."
    )
    priority_aging_s: float = Field(
        default=10.0,
        description="A waiting message gains one priority level per this many seconds (VIP traffic cannot "
        "starve ordinary traffic).",
    )
    vip_user_ids: list[int] = Field(
        default_factory=list, description='Bitrix24 user ids of VIP customers, JSON: "[12, 40]".'
    )
    vip_crm: list[str] = Field(
        default_factory=list,
        description='CRM entities whose dialogues are VIP, JSON: \'["CONTACT:12", "COMPANY:3", "DEAL:7"]\'.',
    )
    urgent_words: list[str] = Field(
        default_factory=lambda: list(DEFAULT_URGENT_WORDS),
        description="A message containing one of these words goes ahead of ordinary ones (JSON list).",
    )

    # --- privacy and security ------------------------------------------------------------------------
    sandbox: bool = Field(
        default=False,
        description="Allow the loopback http endpoints of the built-in emulators as portal and OAuth "
        "addresses (demo, tests). Never in production: a portal is then only a public https host.",
    )
    install_rate_per_s: float = Field(
        default=1.0,
        description="Install confirmations (calls to the OAuth server and the portal) per second, all "
        "portals together; more installs get 429 before anything is called.",
    )
    install_burst: int = Field(default=10, description="Burst of install confirmations.")
    secret_keys: SecretStr = Field(
        default=SecretStr(""),
        description="Fernet keys for secrets at rest, comma-separated, newest first (rotation: prepend a new "
        "key, run `b24claude privacy rotate-keys`, then drop the old one). Empty: the key file is used.",
    )
    secret_key_file: str = Field(
        default="./b24claude.key",
        description="Where keys live when B24C_SECRET_KEYS is empty; created (0600) on first start.",
    )
    ingress_rate_per_s: float = Field(default=50.0, description="Events accepted per second per portal.")
    ingress_burst: int = Field(default=500, description="Burst of events a portal may send at once.")
    event_max_age_s: float = Field(
        default=86_400.0,
        description="Events whose Bitrix24 timestamp is older than this are refused as replays.",
    )
    purge_interval_s: float = Field(default=3600.0, description="How often the retention purge runs.")
    app_session_ttl_s: float = Field(default=3600.0, description="Lifetime of an app-page session.")
