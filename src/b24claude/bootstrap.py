"""The composition root: settings → adapters → services. The only module naming concrete adapters.

Entry points (CLI, demo, tests) build a :class:`Container` with :func:`build`, optionally with
overrides (a fake clock, a knowledge base), and run it with ``start()``/``stop()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr
from redis.asyncio import Redis

from b24claude.adapters.anthropic import ClaudeLLM
from b24claude.adapters.anthropic.fallback import FallbackLLM
from b24claude.adapters.anthropic.limits import LimitCounters, MemoryLimitCounters, ModelLimiter
from b24claude.adapters.bitrix24 import Bitrix24Client, Bitrix24Gateway
from b24claude.adapters.bitrix24.sources import BitrixDiskSource, BitrixKnowledgeSource
from b24claude.adapters.crypto import Keyring
from b24claude.adapters.documents import FileDocumentReader
from b24claude.adapters.logfiles import FileLogArchive
from b24claude.adapters.logs import quiet_libraries
from b24claude.adapters.memory import MemoryCache, MemoryQueue
from b24claude.adapters.rabbitmq import RabbitQueue
from b24claude.adapters.redis import RedisCache, RedisPortalThrottle, check_redis, redis_client
from b24claude.adapters.redis.llm_limits import RedisLimitCounters
from b24claude.adapters.sql import SqlStore
from b24claude.adapters.sql.rekey import sample_secrets
from b24claude.adapters.vectors import HashedNgramEmbedder, NumpyVectorIndex
from b24claude.adapters.vectors.voyage import VoyageEmbedder
from b24claude.admin.settings import AppSettingsService
from b24claude.client_memory import handlers as client_memory_handlers
from b24claude.client_memory.service import ClientMemoryService
from b24claude.conversations import handlers as conversations_handlers
from b24claude.conversations.schemas import AnswerConfig
from b24claude.conversations.service import AnswerService
from b24claude.crm_assist import handlers as crm_assist_handlers
from b24claude.crm_assist.service import CachedCard, ClientCards, CrmAssistConfig
from b24claude.dispatch import Dispatcher, Pipeline, effects_middleware
from b24claude.errors import ConfigurationError
from b24claude.inbox.coalesce import Coalescer
from b24claude.inbox.feeder import InboxFeeder
from b24claude.inbox.offline import OfflineEventPuller
from b24claude.inbox.priority import PriorityPolicy
from b24claude.inbox.puller import EventPuller
from b24claude.inbox.reconcile import ClassicReconciler
from b24claude.inbox.service import InboxService
from b24claude.inbox.worker import InboxWorker
from b24claude.kit.breaker import CircuitBreaker
from b24claude.kit.clock import Clock, SystemClock
from b24claude.kit.signed import SignedTokens
from b24claude.knowledge import handlers as knowledge_handlers
from b24claude.knowledge.lemmas import Lemmatiser
from b24claude.knowledge.search import HybridSearch
from b24claude.knowledge.service import KnowledgeService
from b24claude.knowledge.suggestions import SuggestionService
from b24claude.portals.frame import SESSION_PURPOSE, FrameAuthService
from b24claude.portals.handlers import portals_router
from b24claude.portals.install import InstallPolicy
from b24claude.portals.installer import AppLayout, InstallerService, default_layout
from b24claude.portals.service import PortalService
from b24claude.ports.bitrix import BotCommand, ClientCard
from b24claude.ports.cache import Cache
from b24claude.ports.knowledge import SHARED_BASE, DocumentSource, Embedder, KnowledgeSource, VectorIndex
from b24claude.ports.llm import LLM
from b24claude.ports.privacy import SubjectRepository
from b24claude.ports.queue import TaskQueue
from b24claude.ports.ratelimit import RequestThrottle
from b24claude.ports.retention import LogArchive
from b24claude.ports.store import DialogueRepository
from b24claude.privacy import handlers as privacy_handlers
from b24claude.privacy.admin import PrivacyAdminService
from b24claude.privacy.detect import PiiDetector
from b24claude.privacy.logtext import LogTextPolicy
from b24claude.privacy.policy import PrivacyPolicy
from b24claude.privacy.pseudonymise import Pseudonymiser
from b24claude.privacy.retention import RetentionService
from b24claude.privacy.rights import PrivacyRights
from b24claude.routing import handlers as routing_handlers
from b24claude.routing import schemas as routing_schemas
from b24claude.routing import service as routing_service
from b24claude.routing.service import HandoffService
from b24claude.settings import Settings
from b24claude.supervision import handlers as supervision_handlers
from b24claude.supervision import schemas as supervision_schemas
from b24claude.supervision.service import SupervisionService
from b24claude.triage import handlers as triage_handlers
from b24claude.triage.schemas import TriageSettings
from b24claude.triage.service import TriageService
from b24claude.usage import handlers as usage_handlers
from b24claude.usage.answer_cache import AnswerCache
from b24claude.usage.metered import MeteredLLM
from b24claude.usage.schemas import UsageSettings
from b24claude.usage.service import UsageService

log = logging.getLogger("b24claude")

# What a process runs: "all" = the embedded default (ingress and worker in one process); with a
# broker, `serve` is "ingress" (accept, store, announce; the v2 puller) and `worker` is "worker".
Role = Literal["all", "ingress", "worker"]


@dataclass
class Container:
    settings: Settings
    clock: Clock
    keyring: Keyring
    store: SqlStore
    bitrix: Bitrix24Client
    gateway: Bitrix24Gateway
    llm: ClaudeLLM
    models: FallbackLLM
    knowledge: KnowledgeSource
    kb: KnowledgeService
    kb_search: HybridSearch
    suggestions: SuggestionService  # the knowledge loop: unanswered questions → FAQ suggestions
    portal_service: PortalService
    inbox_service: InboxService
    answers: AnswerService
    pipeline: Pipeline
    pseudonymiser: Pseudonymiser
    log_text: LogTextPolicy
    dispatcher: Dispatcher
    worker: InboxWorker
    puller: EventPuller
    reconciler: ClassicReconciler
    offline: OfflineEventPuller
    frame_auth: FrameAuthService
    privacy_admin: PrivacyAdminService
    installer: InstallerService
    app_settings: AppSettingsService
    retention: RetentionService
    rights: PrivacyRights
    memory: ClientMemoryService
    queue: TaskQueue
    feeder: InboxFeeder
    shared: SharedState
    role: Role = "all"
    triage: TriageService | None = None  # issue 9: the classify step (intelligence_parts())
    usage: UsageService | None = None  # issue 9: model routing and budgets for the answer step
    supervision: SupervisionService | None = None  # issue 9: moderation mode, ratings, flags
    kb_parts: KnowledgeParts | None = None  # the embedder and vector index behind kb / kb_search (closed at stop)
    draining: bool = False  # stop() has begun: /readyz answers 503
    answer_cache: AnswerCache | None = None  # issue 9: None when the knowledge source has no versions
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        """Connect to the queue (and Redis), then start what this role runs: the worker (which first
        resumes what a previous process left), the v2 puller and the retention purge (every
        ``purge_interval_s``; 0 = never)."""
        await self.shared.check()
        await self.queue.startup()
        if self.role in ("all", "worker"):
            self._tasks.append(asyncio.create_task(self.worker.run(), name="inbox-worker"))
        if self.role in ("all", "ingress"):
            self._tasks.append(asyncio.create_task(self.puller.run(), name="v2-puller"))
            if self.settings.reconcile_window_s > 0:
                self._tasks.append(asyncio.create_task(self.reconciler.run(), name="v1-reconcile"))
            if self.settings.offline_poll_interval_s > 0:
                self._tasks.append(asyncio.create_task(self.offline.run(), name="crm-offline-events"))
        self._tasks.append(asyncio.create_task(self.log_text.run(), name="log-text-policy"))
        if self.role in ("all", "ingress") and self.settings.memory_interval_s > 0:
            # One sweeper, beside the purge: two would pay twice for the same extraction.
            self._tasks.append(
                asyncio.create_task(self.memory.run(self.settings.memory_interval_s), name="client-memory")
            )
        if self.role in ("all", "ingress") and self.settings.purge_interval_s > 0:
            self._tasks.append(
                asyncio.create_task(
                    self.retention.run(self.settings.purge_interval_s), name="retention-purge"
                )
            )

    async def stop(self) -> None:
        """Graceful: stop fetching and taking work, let rows in flight finish within
        ``drain_timeout_s`` (the rest is released to other workers), then close the connections."""
        self.draining = True
        await self.retention.stop()
        await self.memory.stop()
        await self.puller.stop()
        await self.reconciler.stop()
        await self.offline.stop()
        await self.worker.stop(deadline_s=self.settings.drain_timeout_s)
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        await self.queue.shutdown()
        await self.bitrix.aclose()
        await self.llm.aclose()
        await self.shared.aclose()
        if self.kb_parts is not None:
            await self.kb_parts.aclose()
        await self.store.close()


@dataclass
class SharedState:
    """What the processes of a deployment share: in memory (embedded) or in Redis (scale-out)."""

    cache: Cache
    throttle: RequestThrottle | None  # None: the Bitrix24 client's own in-memory bucket
    llm_counters: LimitCounters = field(default_factory=MemoryLimitCounters)  # Claude's per-minute windows
    redis: Redis | None = None

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> SharedState:
        if not settings.redis_url:
            return cls(cache=MemoryCache(), throttle=None)
        client = redis_client(settings.redis_url)
        return cls(
            cache=RedisCache(client, prefix=settings.redis_prefix + "cache:", types=(ClientCard, CachedCard)),
            throttle=RedisPortalThrottle(
                client,
                clock,
                rate_per_s=settings.b24_rate_limit_per_s,
                burst=settings.b24_rate_burst,
                prefix=settings.redis_prefix + "rl:",
            ),
            llm_counters=RedisLimitCounters(client, prefix=settings.redis_prefix + "llm:"),
            redis=client,
        )

    async def check(self) -> None:
        """Raise CacheError when Redis (if configured) does not answer."""
        if self.redis is not None:
            await check_redis(self.redis)

    async def aclose(self) -> None:
        if isinstance(self.throttle, RedisPortalThrottle):
            await self.throttle.aclose()
        if self.redis is not None:
            await self.redis.aclose()


def build_queue(settings: Settings, *, role: Role) -> TaskQueue:
    """RabbitMQ when ``B24C_BROKER_URL`` is set, else the in-process queue."""
    if not settings.broker_url:
        return MemoryQueue()
    return RabbitQueue(
        settings.broker_url,
        queue=settings.broker_queue,
        prefetch=settings.worker_concurrency,
        consumer=role == "worker",
    )


def priority_policy(settings: Settings) -> PriorityPolicy:
    return PriorityPolicy.from_settings(
        vip_user_ids=settings.vip_user_ids,
        vip_crm=settings.vip_crm,
        urgent_words=settings.urgent_words,
        aging_s=settings.priority_aging_s,
    )


def build_pipeline(
    *,
    answers: AnswerService,
    cards: ClientCards,
    knowledge: KnowledgeSource,
    handoffs: HandoffService,
    memory: ClientMemoryService,
    subjects: SubjectRepository,
    clock: Clock,
    triage: TriageService | None = None,
    usage: UsageService | None = None,
    answer_cache: AnswerCache | None = None,
    dialogues: DialogueRepository | None = None,
    supervision: SupervisionService | None = None,
    suggestions: SuggestionService | None = None,
) -> Pipeline:
    """The answer pipeline (DESIGN.md §2): each domain hangs its steps on the stages, in this order.

    To add a step, a domain writes ``register_steps(pipeline, ...)`` in its ``handlers.py`` calling
    ``pipeline.register(stage, step, name="<domain>.<step>")`` and is called here. Without ``triage``
    the ``classify`` slot is empty: the message goes on unclassified and routing uses its rules.
    """
    pipeline = Pipeline()
    privacy_handlers.register_steps(pipeline)  # pseudonymise
    if triage is not None and dialogues is not None:
        triage_handlers.register_steps(pipeline, triage, dialogues)  # classify
    if usage is not None:  # answer, before the model: the answer cache, then the model and the budget
        usage_handlers.register_steps(
            pipeline, usage, answer_cache, head=answers.head_of, alerts=routing_service.alert_user_ids
        )
    conversations_handlers.register_steps(pipeline, answers)  # user turn, history, generate, send
    crm_assist_handlers.register_steps(pipeline, cards)  # context: the CRM card
    knowledge_handlers.register_steps(pipeline, knowledge, suggestions)  # context: passages; unanswered
    client_memory_handlers.register_steps(pipeline, memory, subjects)  # context: after the card's binding
    # prefilter: silence after a handoff, rules; context: escalation; answer: the failover
    routing_handlers.register_steps(pipeline, handoffs, clock)
    if supervision is not None:  # moderate: hold for approval (moderation mode), else rating buttons
        supervision_handlers.register_steps(pipeline, supervision)
    return pipeline


def bot_commands() -> tuple[BotCommand, ...]:
    """The bot's commands, registered at install: each domain names its own in its ``schemas.py``."""
    return (*routing_schemas.COMMANDS, *supervision_schemas.COMMANDS)


def handler_url(settings: Settings) -> str:
    return settings.public_url.rstrip("/") + "/b24/events"


def app_layout(settings: Settings) -> AppLayout:
    """What the installer page binds on this deployment (see ``portals.installer.app_layout``)."""
    return default_layout(settings.public_url, events_url=handler_url(settings))


def session_key(keyring: Keyring) -> bytes:
    """The key that signs app-page sessions, derived from the keyring's stable digest key: sessions
    survive restarts and key rotations and work across processes."""
    return bytes.fromhex(keyring.digest(f"session-key:{SESSION_PURPOSE}"))


@dataclass(frozen=True)
class KnowledgeParts:
    service: KnowledgeService
    search: HybridSearch
    embedder: Embedder
    vectors: VectorIndex
    suggestions: SuggestionService

    async def aclose(self) -> None:
        await self.embedder.aclose()
        await self.vectors.aclose()


def build_embedder(settings: Settings) -> Embedder:
    """``B24C_KB_EMBEDDER``: the offline n-gram embedder, or Voyage's API."""
    if settings.kb_embedder == "voyage":
        key = settings.voyage_api_key
        if key.get_secret_value().startswith("enc:"):
            key = SecretStr(resolve_secret(build_keyring(settings), key, name="B24C_VOYAGE_API_KEY"))
        if not key.get_secret_value():
            raise ConfigurationError("B24C_KB_EMBEDDER=voyage needs B24C_VOYAGE_API_KEY")
        return VoyageEmbedder(
            api_key=key.get_secret_value(),
            model=settings.voyage_model,
            base_url=settings.voyage_url,
            batch_size=settings.voyage_batch_size,
            batch_tokens=settings.voyage_batch_tokens,
            output_dimension=settings.voyage_output_dimension or None,
            timeout_s=settings.voyage_timeout_s,
            max_retries=settings.voyage_max_retries,
        )
    return HashedNgramEmbedder()


def build_vector_index(settings: Settings, store: SqlStore) -> VectorIndex:
    """``B24C_KB_VECTOR_INDEX``: numpy over the store's vectors, or Qdrant."""
    if settings.kb_vector_index == "qdrant":
        # qdrant-client is imported only when chosen
        from b24claude.adapters.vectors.qdrant_index import QdrantVectorIndex

        return QdrantVectorIndex(
            store.knowledge,
            collection=settings.qdrant_collection,
            url=settings.qdrant_url,
            path=settings.qdrant_path,
            api_key=settings.qdrant_api_key.get_secret_value(),
        )
    return NumpyVectorIndex(store.knowledge)


def knowledge_parts(settings: Settings, store: SqlStore, clock: Clock) -> KnowledgeParts:
    """Ingestion and hybrid search over the store's knowledge tables, with the configured embedder and
    vector index (close them with ``aclose``)."""
    lemmatiser = Lemmatiser()
    embedder = build_embedder(settings)
    vectors = build_vector_index(settings, store)
    service = KnowledgeService(
        repository=store.knowledge,
        reader=FileDocumentReader(max_bytes=int(settings.kb_max_file_mb * 1024 * 1024)),
        lemmatiser=lemmatiser,
        embedder=embedder,
        vectors=vectors,
        clock=clock,
    )
    search = HybridSearch(
        repository=store.knowledge,
        vectors=vectors,
        embedder=embedder,
        lemmatiser=lemmatiser,
        min_coverage=settings.kb_min_coverage,
    )
    detector = PiiDetector()
    suggestions = SuggestionService(
        repo=store.suggestions,
        kb=service,
        lemmatiser=lemmatiser,
        clock=clock,
        personal_data=lambda text: [(span.type, span.value) for span in detector.detect(text)],
    )
    return KnowledgeParts(service, search, embedder, vectors, suggestions)


def bitrix_client(
    settings: Settings,
    store: SqlStore,
    clock: Clock,
    *,
    client_secret: str,
    throttle: RequestThrottle | None = None,
) -> Bitrix24Client:
    """The REST client over the stored portals' credentials (``throttle``: default in memory)."""
    return Bitrix24Client(
        store.portals,
        oauth_client_id=settings.b24_client_id,
        oauth_client_secret=client_secret,
        oauth_url=settings.b24_oauth_url,
        clock=clock,
        rate_per_s=settings.b24_rate_limit_per_s,
        burst=settings.b24_rate_burst,
        max_wait_s=settings.b24_max_wait_s,
        timeout_s=settings.b24_timeout_s,
        allow_loopback=settings.sandbox,
        throttle=throttle,
        coalesce_window_s=settings.b24_batch_window_s,
    )


def portal_source(
    client: Bitrix24Client, member_id: str, *, disk_folder: int | None = None, kb_site: int | None = None
) -> DocumentSource:
    """A portal's own documents as a knowledge-base source: a Disk folder or a knowledge base."""
    if disk_folder is not None:
        return BitrixDiskSource(client, member_id, disk_folder)
    if kb_site is not None:
        return BitrixKnowledgeSource(client, member_id, kb_site)
    raise ConfigurationError("name a Disk folder or a knowledge base")


async def sync_shared_base(settings: Settings, kb: KnowledgeService) -> None:
    """``B24C_KNOWLEDGE_DIR`` into the service-wide base (unchanged files are skipped by digest)."""
    folder = Path(settings.knowledge_dir) if settings.knowledge_dir else None
    if folder is not None and await asyncio.to_thread(folder.is_dir):
        for outcome in await kb.sync(SHARED_BASE, folder):
            if outcome.status == "failed":
                log.warning("kb.file_skipped", extra={"path": outcome.path, "reason": outcome.error})


def build_keyring(settings: Settings) -> Keyring:
    """The keys for secrets at rest: ``B24C_SECRET_KEYS``, else the key file (created when missing)."""
    return Keyring.from_settings(settings)


def resolve_secret(keyring: Keyring, value: SecretStr, *, name: str = "a setting") -> str:
    """A secret setting in plain text: an ``enc:<token>`` value (``b24claude privacy encrypt-secret``)
    is decrypted with the keyring; anything else is taken as given."""
    return keyring.resolve(value.get_secret_value(), name=name)


async def open_store(settings: Settings, keyring: Keyring) -> SqlStore:
    """The migrated store with secrets encrypted at rest; refuses keys that cannot open what the
    database already holds (a clear ConfigurationError at start-up, not failures at request time)."""
    store = await SqlStore.open(settings.database_url, secrets_codec=keyring.codec, digest=keyring.digest)
    try:
        for stored in await sample_secrets(store.db):
            keyring.codec.decode(stored)
    except BaseException:
        await store.close()
        raise
    return store


def log_archive(settings: Settings) -> LogArchive | None:
    """The log files, when the service writes them (``log_dir``)."""
    return FileLogArchive(settings.log_dir) if settings.log_dir else None


def privacy_services(
    settings: Settings, store: SqlStore, clock: Clock
) -> tuple[RetentionService, PrivacyRights]:
    """The retention purge and the rights of a person (erase, export, consent, audit) over ``store``."""
    logs = log_archive(settings)
    retention = RetentionService(
        store=store.retention,
        portals=store.portals,
        audit=store.audit,
        logs=logs,
        memory=store.memory,
        clock=clock,
    )
    rights = PrivacyRights(
        store=store.retention,
        vault=store.vault,
        subjects=store.subjects,
        consents=store.consents,
        audit=store.audit,
        logs=logs,
        memory=store.memory,
        digest=store.digest,
        clock=clock,
    )
    return retention, rights


def dialogues_lifetime(settings: Mapping[str, Any] | None) -> float | None:
    """How long the portal keeps dialogues (its privacy policy): the cap on a client fact's life."""
    return PrivacyPolicy.from_settings(settings).retention.seconds("dialogues")


async def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    knowledge: KnowledgeSource | None = None,
    role: Role | None = None,
) -> Container:
    """``role``: what this process runs (see :data:`Role`); default "all" without a broker, else
    "ingress"."""
    clock = clock or SystemClock()
    if role is None:
        role = "ingress" if settings.broker_url else "all"
    if role != "all" and not settings.broker_url:
        raise ConfigurationError(f"a separate {role} process needs a broker: set B24C_BROKER_URL")
    quiet_libraries()  # our logs carry no text, tokens or PII, and neither may the libraries'
    keyring = build_keyring(settings)
    client_secret = resolve_secret(keyring, settings.b24_client_secret, name="B24C_B24_CLIENT_SECRET")
    api_key = resolve_secret(keyring, settings.anthropic_api_key, name="B24C_ANTHROPIC_API_KEY")
    store = await open_store(settings, keyring)
    shared = SharedState.from_settings(settings, clock)
    bitrix = bitrix_client(settings, store, clock, client_secret=client_secret, throttle=shared.throttle)
    gateway = Bitrix24Gateway(bitrix)
    llm = ClaudeLLM(
        api_key=api_key,
        base_url=settings.anthropic_base_url,
        default_model=settings.answer_model,
        prices=settings.prices,
        timeout_s=settings.llm_timeout_s,
        max_attempts=settings.llm_max_attempts,
        max_retry_after_s=settings.llm_max_retry_after_s,
        clock=clock,
        limiter=ModelLimiter(
            shared.llm_counters,
            clock,
            rpm=settings.llm_rpm,
            tpm=settings.llm_itpm,
            max_wait_s=settings.llm_limit_max_wait_s,
        ),
    )
    models = FallbackLLM(
        llm,
        default_model=settings.answer_model,
        fallbacks=settings.llm_fallback_models,
        breaker=CircuitBreaker(
            failures=settings.llm_breaker_failures,
            cooldown_s=settings.llm_breaker_cooldown_s,
            monotonic=clock.monotonic,
        ),
    )
    memory = ClientMemoryService(
        repo=store.memory,
        subjects=store.subjects,
        portals=store.portals,
        llm=MeteredLLM(models, store.ledger),  # the ledger meters it (feature "memory")
        clock=clock,
        model=settings.memory_model,
        idle_s=settings.memory_idle_s,
        dialogues_lifetime=dialogues_lifetime,
    )
    kb = knowledge_parts(settings, store, clock)
    if knowledge is None:
        await sync_shared_base(settings, kb.service)
        knowledge = kb.search
    portal_service = PortalService(
        portals=store.portals,
        chat=gateway,
        clock=clock,
        bot_api=settings.bot_api,
        bot_code=settings.bot_code,
        bot_name=settings.bot_name,
        handler_url=handler_url(settings),
        verifier=gateway,
        install_policy=(
            install_policy := InstallPolicy(
                client_id=settings.b24_client_id,
                oauth_url=settings.b24_oauth_url,
                app_code=settings.b24_app_code,
                allow_loopback=settings.sandbox,
                rate_per_s=settings.install_rate_per_s,
                burst=settings.install_burst,
            )
        ),
        on_reinstalled=bitrix.forget,
        commands=bot_commands(),
        registered=store.bot_commands,
    )
    detector = PiiDetector()
    pseudonymiser = Pseudonymiser(detector=detector, vault=store.vault)
    log_text = LogTextPolicy(portals=store.portals, detector=detector, default=settings.log_message_text)
    answers = AnswerService(
        llm=MeteredLLM(models, store.ledger),
        chat=gateway,
        dialogues=store.dialogues,
        clock=clock,
        config=AnswerConfig(
            persona=settings.persona,
            company=settings.company_name,
            default_language=settings.default_language,
            history_turns=settings.history_turns,
            max_tokens=settings.answer_max_tokens,
            model=settings.answer_model,
        ),
    )
    cards = ClientCards(
        crm=gateway,
        cache=shared.cache,
        subjects=store.subjects,
        config=CrmAssistConfig(capture_contacts=settings.capture_contacts),
    )
    handoffs = HandoffService(chat=gateway, operators=gateway, cache=shared.cache, dialogues=store.dialogues)
    triage, usage = intelligence_parts(settings, store, MeteredLLM(models, store.ledger), gateway, shared.cache, clock)
    answer_cache = build_answer_cache(settings, knowledge, shared.cache)
    supervision = SupervisionService(
        repo=store.supervision,
        chat=gateway,
        operators=gateway,
        dialogues=store.dialogues,
        masks=privacy_handlers.dialogue_masks(pseudonymiser, store.consents),
        clock=clock,
    )
    pipeline = build_pipeline(
        answers=answers,
        cards=cards,
        knowledge=knowledge,
        handoffs=handoffs,
        memory=memory,
        subjects=store.subjects,
        clock=clock,
        triage=triage,
        usage=usage,
        answer_cache=answer_cache,
        dialogues=store.dialogues,
        supervision=supervision,
        suggestions=kb.suggestions,
    )
    dispatcher = Dispatcher()
    dispatcher.outer.append(effects_middleware(store.effects))
    dispatcher.outer.append(privacy_handlers.mask_middleware(pseudonymiser, store.consents))
    dispatcher.include(portals_router(portal_service))
    dispatcher.include(
        conversations_handlers.conversations_router(
            pipeline, answers, commands=(routing_schemas.OPERATOR_COMMAND,)
        )
    )
    # Listeners of ReplySent run in this order: the handoff owed, then the CRM write.
    dispatcher.include(routing_handlers.routing_router(handoffs))
    dispatcher.include(crm_assist_handlers.crm_assist_router(cards))
    dispatcher.include(usage_handlers.usage_router(usage, answer_cache, head=answers.head_of))
    dispatcher.include(supervision_handlers.supervision_router(supervision))
    queue = build_queue(settings, role=role)
    policy = priority_policy(settings)
    feeder = InboxFeeder(
        inbox=store.inbox,
        queue=queue,
        policy=policy,
        clock=clock,
        interval_s=settings.feeder_interval_s,
        reannounce_s=settings.priority_aging_s,
    )
    worker = InboxWorker(
        inbox=store.inbox,
        portals=store.portals,
        dispatcher=dispatcher,
        clock=clock,
        queue=queue,
        feeder=feeder,
        concurrency=settings.worker_concurrency,
        max_attempts=settings.inbox_max_attempts,
        lease_s=settings.lease_s,
        exclusive=role == "all",
        coalescer=Coalescer(
            inbox=store.inbox,
            effects=store.effects,
            clock=clock,
            window_s=settings.coalesce_window_s,
            max_messages=settings.coalesce_max_messages,
        ),
    )
    inbox_service = InboxService(
        inbox=store.inbox,
        portal_service=portal_service,
        clock=clock,
        rate_per_s=settings.ingress_rate_per_s,
        burst=settings.ingress_burst,
        max_event_age_s=settings.event_max_age_s,
        queue=queue,
        priority=policy,
        on_offline_event=lambda member_id: offline.wake(member_id),
    )
    offline = OfflineEventPuller(
        portals=store.portals,
        queue=gateway,
        inbox=inbox_service,
        notify_url=handler_url(settings),
        interval_s=settings.offline_poll_interval_s or 60.0,
    )
    puller = EventPuller(
        portals=store.portals,
        chat=gateway,
        inbox=inbox_service,
        clock=clock,
        idle_interval_s=settings.v2_poll_interval_s,
    )
    reconciler = ClassicReconciler(
        portals=store.portals,
        inbox_rows=store.inbox,
        inbox=inbox_service,
        chat=gateway,
        clock=clock,
        window_s=settings.reconcile_window_s,
        interval_s=settings.reconcile_interval_s,
    )
    frame_auth = FrameAuthService(
        portals=store.portals,
        users=gateway,
        clock=clock,
        signer=SignedTokens(session_key(keyring), purpose=SESSION_PURPOSE),
        session_ttl_s=settings.app_session_ttl_s,
    )
    privacy_admin = PrivacyAdminService(
        portals=store.portals, consents=store.consents, audit=store.audit, clock=clock
    )
    retention, rights = privacy_services(settings, store, clock)
    installer = InstallerService(
        verifier=gateway, setup=gateway, policy=install_policy, layout=app_layout(settings), clock=clock
    )
    app_settings = AppSettingsService(portals=store.portals, audit=store.audit, clock=clock)
    return Container(
        settings=settings,
        clock=clock,
        keyring=keyring,
        store=store,
        bitrix=bitrix,
        gateway=gateway,
        llm=llm,
        models=models,
        knowledge=knowledge,
        kb=kb.service,
        kb_search=kb.search,
        kb_parts=kb,
        suggestions=kb.suggestions,
        portal_service=portal_service,
        inbox_service=inbox_service,
        answers=answers,
        pipeline=pipeline,
        pseudonymiser=pseudonymiser,
        log_text=log_text,
        dispatcher=dispatcher,
        worker=worker,
        puller=puller,
        reconciler=reconciler,
        offline=offline,
        frame_auth=frame_auth,
        privacy_admin=privacy_admin,
        installer=installer,
        app_settings=app_settings,
        retention=retention,
        rights=rights,
        memory=memory,
        queue=queue,
        feeder=feeder,
        shared=shared,
        role=role,
        triage=triage,
        usage=usage,
        answer_cache=answer_cache,
        supervision=supervision,
    )


def build_answer_cache(settings: Settings, knowledge: KnowledgeSource, cache: Cache) -> AnswerCache | None:
    """The answer cache over the shared cache, keyed on the knowledge base's version; none when the
    knowledge source cannot say its version (an override in tests) — a cache that cannot tell a changed
    base would serve stale answers."""
    if not settings.answer_cache or not isinstance(knowledge, HybridSearch):
        return None
    lemmatiser = Lemmatiser()
    return AnswerCache(
        cache=cache,
        terms=lambda text: lemmatiser.lemmas(text, keep_stop=True),
        kb_version=knowledge.version,
        ttl_s=settings.answer_cache_ttl_s,
    )


def intelligence_parts(
    settings: Settings, store: SqlStore, llm: LLM, gateway: Bitrix24Gateway, cache: Cache, clock: Clock
) -> tuple[TriageService, UsageService]:
    """Classification (triage/) and cost control (usage/), with the service-wide defaults from settings;
    portals override them in ``Portal.settings["triage"]`` / ``["usage"]``. ``llm`` is metered: the
    ledger wrapper writes the classifier's calls (feature "classify")."""
    triage = TriageService(
        llm=llm,
        triage=store.triage,
        crm=gateway,
        effects=store.effects,
        clock=clock,
        defaults=TriageSettings(
            enabled=settings.triage_enabled,
            model=settings.triage_model,
            min_confidence=settings.triage_min_confidence,
            recheck_every=max(1, settings.triage_recheck_every),
            timeline_comment=settings.triage_timeline_comment,
            crm_field=settings.triage_crm_field,
        ),
    )
    usage = UsageService(
        views=store.ledger_views,
        cache=cache,
        clock=clock,
        chat=gateway,
        defaults=UsageSettings(
            cheap_model=settings.cheap_model,
            strong_model=settings.answer_model,
            routing=settings.model_routing,
            monthly_budget_usd=settings.monthly_budget_usd,
            warn_share=settings.budget_warn_share,
            over_budget=settings.budget_action,
            answer_cache=settings.answer_cache,
        ),
    )
    return triage, usage
