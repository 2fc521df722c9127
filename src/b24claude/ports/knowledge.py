"""Knowledge-base ports: passages for the answer loop, the document store, readers, vectors.

The default implementations: the SQL store (chunks plus an FTS5 index of their lemmas) in
``adapters/sql/knowledge.py``, file readers in ``adapters/documents``, the hashed character n-gram
embedder and the in-memory (numpy) vector index in ``adapters/vectors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from b24claude.errors import BadRequest

Vectors = npt.NDArray[np.float32]
DocumentFormat = Literal["markdown", "text", "html", "pdf", "docx", "faq-csv", "faq-xlsx"]
EmbedPurpose = Literal["query", "document"]  # Voyage's input_type: what the text is for in retrieval
SHARED_BASE = "_shared"  # the service-wide base (B24C_KNOWLEDGE_DIR), seen by every portal


@dataclass(frozen=True, slots=True)
class Passage:
    id: str
    title: str
    text: str
    score: float = 0.0
    source: str = ""  # "file.md#Heading" or an FAQ entry's id: what a citation shows
    coverage: float = 1.0  # the share of the question's content words the passage contains (0..1)


class KnowledgeSource(Protocol):
    async def search(self, member_id: str, query: str, *, limit: int = 3) -> Sequence[Passage]:
        """The passages of ``member_id``'s base (and the shared one) best answering ``query``."""
        ...


# --- documents as read from files ------------------------------------------------------------------


class DocumentError(BadRequest):
    """A file that cannot be ingested: corrupt, empty, too large, an unknown format, missing columns."""

    code = "bad_document"


@dataclass(frozen=True, slots=True)
class Section:
    """Text under one heading path; ``label`` overrides the citation (an FAQ entry's id)."""

    headings: tuple[str, ...]
    text: str
    label: str = ""


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    name: str  # the file name without folders
    format: DocumentFormat
    sections: Sequence[Section]
    title: str = ""


class DocumentReader(Protocol):
    max_bytes: int  # the size cap: a file over it is refused, a download stops there

    def check(self, path: Path) -> DocumentFormat:
        """Refuse an unknown format, an empty file or one over the size cap, without reading it."""
        ...

    def check_name(self, name: str, size: int | None) -> DocumentFormat:
        """The same refusals from a name and a declared size alone (before downloading a file)."""
        ...

    def read(self, path: Path) -> ParsedDocument:
        """Parse one file; raises :class:`DocumentError` with a reason a person can act on."""
        ...


# --- documents that live elsewhere (a Bitrix24 portal's Disk folder or knowledge base) -------------


@dataclass(frozen=True, slots=True)
class RemoteDocument:
    """One document a :class:`DocumentSource` lists, before it is fetched."""

    path: str  # relative to the source's root, "/"-separated; the last part is the file's name
    ref: str  # the source's own handle to fetch it by (a Disk file id, a page id)
    size: int | None = None  # as the source declares it (None: unknown until fetched)
    version: str = ""  # changes whenever the content does; "" = unknown, compare the bytes instead


class DocumentSource(Protocol):
    """A remote folder of documents a portal's base mirrors (``KnowledgeService.sync_source``)."""

    @property
    def prefix(self) -> str:
        """The key prefix of this source's documents in the base, e.g. ``b24disk://42/``."""
        ...

    async def listing(self) -> Sequence[RemoteDocument]:
        """Every document the source holds now. Raises when the listing fails (nothing is changed)."""
        ...

    async def fetch(self, doc: RemoteDocument, *, max_bytes: int) -> bytes:
        """The document's bytes (at most ``max_bytes`` + 1 are read); :class:`DocumentError` with a
        reason a person can act on when it cannot be fetched."""
        ...


# --- the stored base --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Chunk:
    ordinal: int
    source: str  # citation label: "file.md#Heading" or an FAQ id
    headings: tuple[str, ...]
    text: str
    lemmas: str  # space-separated lemmas of headings + text (what BM25 sees)
    heading_lemmas: str = ""
    vector: bytes = b""  # float32 embedding, little-endian


@dataclass(frozen=True, slots=True)
class StoredDocument:
    member_id: str
    key: str  # the document's identity within the portal (its path as given, or its name)
    name: str
    format: str
    digest: (
        str  # sha256 of the file's bytes (a remote one's: of its version stamp): sync replaces what changed
    )
    size: int
    chunks: int = 0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class StoredChunk:
    id: int
    member_id: str
    document_key: str
    ordinal: int
    source: str
    headings: tuple[str, ...]
    text: str
    lemmas: str = ""
    heading_lemmas: str = ""
    vector: bytes = b""


@dataclass(frozen=True, slots=True)
class LexicalHit:
    chunk_id: int
    score: float  # higher is better


class KnowledgeRepository(Protocol):
    async def replace_document(self, doc: StoredDocument, chunks: Sequence[Chunk]) -> None:
        """Store ``doc`` with ``chunks``, replacing any previous version, in one transaction."""
        ...

    async def remove_document(self, member_id: str, key: str) -> bool: ...

    async def documents(self, member_id: str) -> list[StoredDocument]: ...

    async def chunks_of(self, member_id: str, key: str) -> list[StoredChunk]: ...

    async def chunks_by_id(self, ids: Sequence[int]) -> dict[int, StoredChunk]: ...

    async def lexical_search(
        self, member_ids: Sequence[str], terms: Sequence[str], *, limit: int
    ) -> list[LexicalHit]:
        """BM25 over the chunks' lemmas, any of ``terms`` matching, best first."""
        ...

    async def vectors(self, member_id: str) -> tuple[list[int], list[bytes]]:
        """Every chunk id of the portal with its stored vector."""
        ...

    async def vocabulary(self, member_ids: Sequence[str]) -> tuple[int, dict[str, int]]:
        """The number of the portals' chunks, and each lemma with the number of chunks holding it."""
        ...

    async def generation(self, member_id: str) -> int:
        """A number that changes whenever the portal's base changes (caches key on it)."""
        ...

    async def portals(self) -> list[str]: ...


class Embedder(Protocol):
    name: str
    # True: it embeds the lemmas BM25 sees (the offline n-gram embedder); False: the text as written
    # (a neural model such as Voyage's understands inflection and other languages itself).
    lemmatised: bool

    async def embed(self, texts: Sequence[str], *, purpose: EmbedPurpose) -> Vectors:
        """Unit-length rows, one per text, all of one dimension (the embedder's own)."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class VectorHit:
    chunk_id: int
    score: float  # cosine similarity


class VectorIndex(Protocol):
    """Nearest chunks by cosine. The store's ``kb_chunks.vector`` is the truth: an index that keeps
    its own copy (Qdrant, pgvector) brings a portal's copy up to date from it whenever the portal's
    generation changes, before answering; a hit whose chunk is gone is dropped by the caller."""

    async def search(self, member_ids: Sequence[str], vector: Vectors, *, limit: int) -> list[VectorHit]:
        """The nearest chunks of those portals only."""
        ...

    def invalidate(self, member_id: str) -> None: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    path: str
    status: Literal["added", "replaced", "unchanged", "removed", "failed"]
    chunks: int = 0
    error: str = ""
    # Instruction-like text taken out of the document ("rule: text"): an admin should look at the file.
    flagged: tuple[str, ...] = ()


# --- the knowledge loop: unanswered questions → FAQ suggestions (knowledge/suggestions.py) ---------

QuestionStatus = Literal["open", "resolved", "suggested"]
SuggestionStatus = Literal["pending", "approved", "rejected"]


@dataclass(frozen=True, slots=True)
class UnansweredQuestion:
    """A customer's question the base had no passage good enough for (masked text)."""

    member_id: str
    dialog_key: str
    dialog_id: str
    message_id: int
    author_id: int
    bot_id: int
    bot_api: str
    question: str
    language: str = "ru"
    created_at: float = 0.0
    id: int = 0
    answer: str = ""  # what the operator replied (read from the chat)
    status: QuestionStatus = "open"
    suggestion_id: int | None = None


@dataclass(frozen=True, slots=True)
class FaqSuggestion:
    id: int
    member_id: str
    question: str
    answer: str
    lemmas: str  # the question's content lemmas, space-separated (the cluster's key)
    questions: int  # how many customer questions it stands for
    status: SuggestionStatus
    source: str = ""  # once approved: the FAQ entry's citation ("suggestion-<id>")
    created_at: float = 0.0
    decided_at: float | None = None


class SuggestionRepository(Protocol):
    async def add_question(self, question: UnansweredQuestion) -> bool:
        """Record it once (a replay of the same message is a no-op); ``False`` when it existed."""
        ...

    async def questions(self, member_id: str, *, status: QuestionStatus) -> list[UnansweredQuestion]: ...

    async def resolve(self, question_id: int, *, answer: str) -> None: ...

    async def attach(self, question_id: int, suggestion_id: int) -> None:
        """The question is part of that suggestion (status ``suggested``)."""
        ...

    async def add_suggestion(
        self, member_id: str, *, question: str, answer: str, lemmas: str, now: float
    ) -> int: ...

    async def grow(self, suggestion_id: int) -> None:
        """One more question of the cluster."""
        ...

    async def suggestions(
        self, member_id: str, *, status: SuggestionStatus | None = None
    ) -> list[FaqSuggestion]: ...

    async def get_suggestion(self, member_id: str, suggestion_id: int) -> FaqSuggestion | None: ...

    async def decide(
        self, suggestion_id: int, *, status: SuggestionStatus, answer: str, source: str, now: float
    ) -> None: ...
