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
    host: str = Field(default="127.0.0.1", description="Address `b24claude serve` listens on.")
    port: int = Field(default=8080, description="Port `b24claude serve` listens on.")
    database_url: str = Field(
        default="sqlite+aiosqlite:///./b24claude.db",
        description="SQLite file (relative to the working directory) or postgresql+asyncpg://user:pw@host/db.",
    )

    # --- Bitrix24 -----------------------------------------------------------------------------------
    b24_client_id: str = Field(
        default="", description="The local application's client_id (local.…), from the portal."
    )
    b24_client_secret: SecretStr = Field(
        default=SecretStr(""),
        description="The app's client_secret (or enc:… from `b24claude privacy encrypt-secret`).",
    )
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
    b24_rate_limit_per_s: float = Field(
        default=2.0, description="REST requests/s per portal (5 on Enterprise)."
    )
    b24_rate_burst: int = Field(
        default=50, description="REST leaky-bucket size per portal (250 on Enterprise)."
    )
    b24_batch_window_s: float = Field(
        default=0.02,
        description="Read batches of one portal started within this many seconds share one `batch` request "
        "(≤ 50 sub-calls), e.g. the context reads of many dialogues at once (0 = each its own).",
    )
    b24_max_wait_s: float = Field(
        default=30.0, description="Longest wait on Bitrix24 rate limits before giving up."
    )
    b24_timeout_s: float = Field(default=30.0, description="Timeout of one Bitrix24 REST request, seconds.")
    bot_api: Literal["v1", "v2"] = Field(
        default="v2",
        description="v2 = imbot.v2 with eventMode fetch (no public URL needed, nothing lost); v1 = classic events.",
    )
    bot_code: str = Field(default="b24claude", description="The chat-bot's CODE on the portal.")
    bot_name: str = Field(
        default="Claude", description="The chat-bot's name as operators and customers see it."
    )
    v2_poll_interval_s: float = Field(
        default=2.0, description="imbot.v2 fetch mode: pause between empty polls."
    )

    # --- Claude ------------------------------------------------------------------------------------
    anthropic_api_key: SecretStr = Field(
        default=SecretStr(""),
        description="Claude API key (or enc:… from `b24claude privacy encrypt-secret`).",
    )
    anthropic_base_url: str = Field(default="https://api.anthropic.com", description="Claude API address.")
    answer_model: str = Field(default="claude-sonnet-5-5", description="Model that answers customers.")
    answer_max_tokens: int = Field(default=1024, description="Longest answer, in output tokens.")
    llm_timeout_s: float = Field(default=60.0, description="Timeout of one Claude API call, seconds.")
    llm_max_attempts: int = Field(
        default=2,
        description="Calls per model for one request (our only retry layer); then the next model of the chain.",
    )
    llm_fallback_models: list[str] = Field(
        default_factory=lambda: ["claude-haiku-5-5"],
        description="Models tried, in order, when the requested one fails with 429/529/5xx/timeouts.",
    )
    llm_breaker_failures: int = Field(
        default=3, description="Consecutive failures after which a model is skipped for a cooldown."
    )
    llm_rpm: int = Field(
        default=0,
        description="Client-side limit: Claude requests per minute per model, shared by every process (0 = "
        "learn it from the anthropic-ratelimit-requests-limit header).",
    )
    llm_itpm: int = Field(
        default=0,
        description="Client-side limit: Claude input tokens per minute per model (0 = learn it from the "
        "anthropic-ratelimit-input-tokens-limit header).",
    )
    llm_limit_max_wait_s: float = Field(
        default=30.0,
        description="Longest wait for the client-side Claude budget before the call fails as rate-limited "
        "(the message is retried later or another model tried).",
    )
    llm_breaker_cooldown_s: float = Field(
        default=30.0, description="How long a failing model is skipped before one trial call."
    )
    llm_max_retry_after_s: float = Field(
        default=20.0, description="Cap on a retry-after wait from the Claude API."
    )
    prices: dict[str, ModelPrice] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES), description="USD per million tokens per model (JSON)."
    )

    # --- the answer ----------------------------------------------------------------------------------
    company_name: str = Field(default="Компания", description="Company name the bot speaks for.")
    persona: str = Field(
        default=(
            "Вы — вежливый ассистент компании в чате поддержки. Отвечайте кратко и по делу, "
            "на языке клиента, опираясь на базу знаний и данные CRM. Не выдумывайте фактов."
        ),
        description="The bot's instructions (system prompt).",
    )
    default_language: Literal["ru", "en"] = Field(
        default="ru", description="Language when the customer's is unknown."
    )
    history_turns: int = Field(default=10, description="Dialogue turns sent to Claude with each question.")
    capture_contacts: bool = Field(
        default=True, description="Write phones/e-mails customers give in chat into the bound CRM card."
    )
    knowledge_dir: str = Field(
        default="", description="A folder synced at start-up into the service-wide base every portal sees."
    )
    kb_max_file_mb: float = Field(default=50.0, description="Files larger than this are refused by `kb add`.")
    kb_min_coverage: float = Field(
        default=0.34, description="Share of a question's terms a passage must hold to be answered from."
    )
    kb_embedder: Literal["hashed", "voyage"] = Field(
        default="hashed",
        description="Knowledge-base vectors: hashed (offline character n-grams) or voyage (Voyage AI's API; "
        "set B24C_VOYAGE_API_KEY). After a switch, re-add the documents (`kb remove` + `kb add`).",
    )
    kb_vector_index: Literal["memory", "qdrant"] = Field(
        default="memory",
        description="Where vectors are searched: memory (numpy, loaded from the store per process) or "
        "qdrant (B24C_QDRANT_URL or B24C_QDRANT_PATH).",
    )
    voyage_api_key: SecretStr = Field(
        default=SecretStr(""), description="Voyage AI API key (or enc:… from `b24claude privacy encrypt-secret`)."
    )
    voyage_url: str = Field(
        default="https://api.voyageai.com/v1", description="Voyage API base; the only address the embedder calls."
    )
    voyage_model: str = Field(
        default="voyage-4",
        description="Voyage embedding model (multilingual: voyage-4, voyage-4-large, voyage-3.5, "
        "voyage-multilingual-2).",
    )
    voyage_output_dimension: int = Field(
        default=0, description="Vector dimension asked of Voyage (256/512/1024/2048 where offered); 0: the model's."
    )
    voyage_batch_size: int = Field(default=128, description="Texts per Voyage request (the API takes up to 1,000).")
    voyage_batch_tokens: int = Field(
        default=100_000, description="Estimated tokens per Voyage request (the API's limit is 120K-1M by model)."
    )
    voyage_timeout_s: float = Field(default=30.0, description="Timeout of one Voyage request, seconds.")
    voyage_max_retries: int = Field(
        default=4, description="Retries of a Voyage request after 429 (waiting Retry-After) or 5xx."
    )
    qdrant_url: str = Field(default="", description="Qdrant server (http://host:6333) for kb_vector_index=qdrant.")
    qdrant_path: str = Field(
        default="", description="Or a local Qdrant folder (qdrant-client local mode, one process only)."
    )
    qdrant_api_key: SecretStr = Field(
        default=SecretStr(""), description="Qdrant API key, when the server wants one."
    )
    qdrant_collection: str = Field(
        default="b24claude_kb",
        description="The Qdrant collection of every portal's passages (a payload filter isolates them).",
    )
    memory_model: str = Field(
        default="claude-haiku-5-5", description="Model that extracts client facts from finished dialogues."
    )
    memory_idle_s: float = Field(
        default=1800.0, description="A dialogue quiet this long counts as finished: its facts are extracted."
    )
    memory_interval_s: float = Field(
        default=300.0, description="How often finished dialogues are read for client facts (0 = never)."
    )

    # --- conversation intelligence: classification and cost control (issue 9) ------------------------
    triage_enabled: bool = Field(default=True, description="Classify each new request (type, urgency, sentiment).")
    triage_model: str = Field(default="claude-haiku-5-5", description="The cheap model that classifies requests.")
    triage_min_confidence: float = Field(
        default=0.6, description="Under this confidence the bot abstains and a human takes the dialogue (0..1)."
    )
    triage_recheck_every: int = Field(
        default=4, description="Re-classify at least every N customer messages, besides when the dialogue turns."
    )
    triage_timeline_comment: bool = Field(
        default=True, description="Write the classification into the bound CRM entity's timeline."
    )
    triage_crm_field: str = Field(
        default="", description="A CRM field (e.g. UF_CRM_B24C_TRIAGE) that also gets type/urgency/sentiment."
    )
    cheap_model: str = Field(
        default="claude-haiku-5-5", description="Model for small talk and simple FAQ answers (model routing)."
    )
    model_routing: bool = Field(
        default=True, description="Route simple answers to the cheap model; off: every answer on answer_model."
    )
    monthly_budget_usd: float = Field(
        default=0.0, description="Claude spend per portal per calendar month, USD; 0 = no budget."
    )
    budget_warn_share: float = Field(default=0.8, description="Share of the budget at which admins are warned.")
    budget_action: Literal["cheap_only", "handoff"] = Field(
        default="cheap_only",
        description="At 100 % of the budget: answer with the cheap model only, or hand dialogues to operators.",
    )
    answer_cache: bool = Field(
        default=True,
        description="Answer a repeated opening question from the answer cache (per portal and knowledge version).",
    )
    answer_cache_ttl_s: float = Field(
        default=7 * 86400.0, description="How long a cached answer is served (it also ends when the base changes)."
    )

    # --- processing ----------------------------------------------------------------------------------
    worker_concurrency: int = Field(
        default=200,
        description="Inbox events handled at once per process (split it across worker processes). A row in "
        "flight mostly waits on Claude, so answers/s ≈ this ÷ Claude's latency (8 ÷ 3 s = 2.7/s); what goes "
        "out is bounded by the Claude limits (B24C_LLM_RPM) and the portal's bucket, not by this.",
    )
    inbox_max_attempts: int = Field(
        default=8, description="Attempts per inbox event before it is marked failed."
    )
    max_body_bytes: int = Field(default=1_000_000, description="Largest request body accepted, bytes.")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_message_text: bool = Field(
        default=False,
        description="Service-wide default for logging message text (PII-masked even then); portals override.",
    )
    log_format: Literal["json", "console"] = Field(
        default="json", description="json (one object a line) or console."
    )
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
    reconcile_window_s: float = Field(
        default=86400.0,
        description="Classic (v1) bots: at start-up, dialogues with a message in this many seconds are read "
        "back (im.dialog.messages.get) for messages Bitrix24 could not deliver while the service was down "
        "(0 = off).",
    )
    reconcile_interval_s: float = Field(
        default=0.0,
        description="Classic (v1) bots: repeat that reconciliation every this many seconds (0 = at start-up "
        "only).",
    )
    offline_poll_interval_s: float = Field(
        default=60.0,
        description="CRM changes (Bitrix24 offline events): read the portal's queue this often besides on "
        "each ONOFFLINEEVENT (0 = never bind nor read offline events).",
    )
    drain_timeout_s: float = Field(
        default=20.0,
        description="On SIGTERM, rows in flight get this many seconds to finish; what still runs then is "
        "released to other workers at once.",
    )
    feeder_interval_s: float = Field(
        default=1.0, description="How often a worker looks for expired leases and unannounced rows."
    )
    coalesce_window_s: float = Field(
        default=1.5,
        description="Coalescing: a customer's message waits until they have been quiet this long, and the "
        "messages they sent meanwhile get one answer together (0 = answer at once; messages already "
        "waiting together are still answered together).",
    )
    coalesce_max_messages: int = Field(
        default=10,
        description="At most this many consecutive messages of one customer get one answer (1 = no coalescing).",
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
    bx24_js_url: str = Field(
        default="",
        description=(
            "Where the app pages load BX24.js; empty = from the portal itself "
            "(https://<portal>/bitrix/js/rest/bx24.js), so the page asks no other host."
        ),
    )
