"""Ingestion: files and folders into a portal's knowledge base, one document at a time, atomically.

A document is read (format from its suffix), split into passages that keep their heading path and
whole sentences, lemmatised and embedded, then stored replacing its previous version in one
transaction. A file that cannot be read gets a clear reason and the rest of the batch goes on;
nothing of a failed file is written.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from b24claude.errors import B24ClaudeError
from b24claude.kit.clock import Clock
from b24claude.knowledge.chunking import MAX_CHARS, passages
from b24claude.knowledge.lemmas import Lemmatiser
from b24claude.ports.knowledge import (
    Chunk,
    DocumentError,
    DocumentReader,
    DocumentSource,
    Embedder,
    IngestOutcome,
    KnowledgeRepository,
    StoredChunk,
    StoredDocument,
    VectorIndex,
)
from b24claude.safety.injection import strip_instructions

Progress = Callable[[IngestOutcome], None]
_SKIP = frozenset({".DS_Store", "Thumbs.db"})
# Keys of documents from a portal source carry a scheme (``b24disk://<folder>/<path>``,
# ``b24kb://<site>/<page>``); a local folder's keys never do.
REMOTE_MARK = "://"


@dataclass(frozen=True, slots=True)
class Candidate:
    key: str
    path: Path


def collect(paths: Iterable[Path]) -> list[Candidate]:
    """Files as given, and every file under a folder (hidden ones skipped), keyed by their path relative
    to the folder given (a file's key is its name)."""
    out: list[Candidate] = []
    for path in paths:
        if path.is_dir():
            for f in sorted(path.rglob("*")):
                rel = f.relative_to(path)
                if f.is_file() and f.name not in _SKIP and not any(p.startswith(".") for p in rel.parts):
                    out.append(Candidate(rel.as_posix(), f))
        else:
            out.append(Candidate(path.name, path))
    return out


class KnowledgeService:
    def __init__(
        self,
        *,
        repository: KnowledgeRepository,
        reader: DocumentReader,
        lemmatiser: Lemmatiser,
        embedder: Embedder,
        vectors: VectorIndex,
        clock: Clock,
        max_chars: int = MAX_CHARS,
    ) -> None:
        self._repo = repository
        self._reader = reader
        self._lem = lemmatiser
        self._embedder = embedder
        self._vectors = vectors
        self._clock = clock
        self._max_chars = max_chars

    def _read(
        self, path: Path
    ) -> tuple[str, list[tuple[str, tuple[str, ...], str]], tuple[str, ...], list[str], list[str]]:
        """Read, split and lemmatise one file (CPU work, no I/O to the store)."""
        doc = self._reader.read(path)
        drafts, flagged = _without_instructions(passages(doc, max_chars=self._max_chars))
        heading_lemmas = [" ".join(self._lem.lemmas(" ".join(h))) for _, h, _ in drafts]
        body_lemmas = [" ".join(self._lem.lemmas(t)) for _, _, t in drafts]
        return doc.format, drafts, flagged, heading_lemmas, body_lemmas

    async def prepare(self, path: Path) -> tuple[str, list[Chunk], tuple[str, ...]]:
        """Read, split, lemmatise and embed one file; also what was taken out as instructions to the
        model (``"rule: text"``, for the admin's report)."""
        fmt, drafts, flagged, heading_lemmas, body_lemmas = await asyncio.to_thread(self._read, path)
        if self._embedder.lemmatised:
            texts = [f"{h} {h} {b}" for h, b in zip(heading_lemmas, body_lemmas, strict=True)]
        else:  # a neural embedder reads the passage as written, under its heading path
            texts = [" / ".join(headings) + "\n" + text if headings else text for _, headings, text in drafts]
        matrix = await self._embedder.embed(texts, purpose="document") if texts else None
        chunks = [
            Chunk(
                ordinal=i,
                source=source,
                headings=headings,
                text=text,
                lemmas=body_lemmas[i],
                heading_lemmas=heading_lemmas[i],
                vector=matrix[i].astype("<f4").tobytes() if matrix is not None else b"",
            )
            for i, (source, headings, text) in enumerate(drafts)
        ]
        return fmt, chunks, flagged

    async def ingest(
        self,
        member_id: str,
        candidate: Candidate,
        *,
        known: StoredDocument | None = None,
        label: str | None = None,
        stamp: str | None = None,
    ) -> IngestOutcome:
        """One file into the base; an unchanged file (same bytes) is left as it is. ``label``: what
        the outcome names (default the path); ``stamp``: the digest to store instead of the bytes'
        (a remote document's version stamp)."""
        path = label or str(candidate.path)
        try:
            self._reader.check(candidate.path)  # format, emptiness, size cap: before reading a byte
            data_digest, size = await asyncio.to_thread(_digest, candidate.path)
            if stamp is not None:
                data_digest = stamp
            if known is not None and known.digest == data_digest:
                return IngestOutcome(path, "unchanged", known.chunks)
            fmt, chunks, flagged = await self.prepare(candidate.path)
        except DocumentError as exc:
            return IngestOutcome(path, "failed", error=exc.message)
        except B24ClaudeError:
            raise
        except Exception as exc:  # a parser's own failure on a malformed file: the batch goes on
            return IngestOutcome(
                path, "failed", error=f"cannot read the file / файл не читается: {type(exc).__name__}"
            )
        doc = StoredDocument(
            member_id=member_id,
            key=candidate.key,
            name=candidate.path.name,
            format=fmt,
            digest=data_digest,
            size=size,
            chunks=len(chunks),
            updated_at=self._clock.now(),
        )
        await self._repo.replace_document(doc, chunks)
        self._vectors.invalidate(member_id)
        return IngestOutcome(path, "replaced" if known is not None else "added", len(chunks), flagged=flagged)

    async def add(
        self, member_id: str, paths: Sequence[Path], *, progress: Progress | None = None
    ) -> list[IngestOutcome]:
        """Add or replace the files (folders: every file under them)."""
        known = {d.key: d for d in await self._repo.documents(member_id)}
        outcomes: list[IngestOutcome] = []
        for candidate in await asyncio.to_thread(collect, paths):
            if not await asyncio.to_thread(candidate.path.exists):
                outcome = IngestOutcome(str(candidate.path), "failed", error="no such file / файла нет")
            else:
                outcome = await self.ingest(member_id, candidate, known=known.get(candidate.key))
            outcomes.append(outcome)
            if progress is not None:
                progress(outcome)
        return outcomes

    async def sync(
        self, member_id: str, folder: Path, *, progress: Progress | None = None
    ) -> list[IngestOutcome]:
        """Make the portal's base what ``folder`` holds: add new files, replace changed ones, remove the
        documents whose files are gone. A file that fails keeps its previous version."""
        if not await asyncio.to_thread(folder.is_dir):
            raise DocumentError(f"not a folder / это не папка: {folder}")
        outcomes = await self.add(member_id, [folder], progress=progress)
        present = {c.key for c in await asyncio.to_thread(collect, [folder])}
        for doc in await self._repo.documents(member_id):
            if REMOTE_MARK in doc.key:
                continue  # a portal source's document (``b24disk://…``): only its own sync removes it
            if doc.key not in present and await self.remove(member_id, doc.key):
                outcome = IngestOutcome(doc.key, "removed", doc.chunks)
                outcomes.append(outcome)
                if progress is not None:
                    progress(outcome)
        return outcomes

    async def sync_source(
        self, member_id: str, source: DocumentSource, *, progress: Progress | None = None
    ) -> list[IngestOutcome]:
        """Make the portal's documents from ``source`` what it holds now: fetch new and changed ones
        (changed: another version stamp, or other bytes when the source has no stamps), remove the
        ones it no longer lists. A document that cannot be fetched or read keeps its previous
        version; a listing that fails raises before anything is changed."""
        prefix = source.prefix
        listing = await source.listing()
        known = {d.key: d for d in await self._repo.documents(member_id) if d.key.startswith(prefix)}
        outcomes: list[IngestOutcome] = []
        present: set[str] = set()

        def report(outcome: IngestOutcome) -> None:
            outcomes.append(outcome)
            if progress is not None:
                progress(outcome)

        with tempfile.TemporaryDirectory(prefix="b24claude-kb-") as tmp:
            for n, item in enumerate(listing):
                key = prefix + item.path
                present.add(key)
                previous = known.get(key)
                stamp = _stamp(item.version) if item.version else None
                if previous is not None and stamp is not None and previous.digest == stamp:
                    report(IngestOutcome(key, "unchanged", previous.chunks))
                    continue
                name = item.path.rsplit("/", 1)[-1]
                try:
                    if not name or name in (".", "..") or "\\" in name:
                        raise DocumentError(f"not a usable file name / недопустимое имя файла: {name!r}")
                    self._reader.check_name(name, item.size)  # format and size before downloading
                    data = await source.fetch(item, max_bytes=self._reader.max_bytes)
                    self._reader.check_name(name, len(data))  # the size the source declared may lie
                except DocumentError as exc:
                    report(IngestOutcome(key, "failed", error=exc.message))
                    continue
                folder = Path(tmp) / str(n)
                await asyncio.to_thread(folder.mkdir)
                target = folder / name
                await asyncio.to_thread(target.write_bytes, data)
                outcome = await self.ingest(
                    member_id, Candidate(key, target), known=previous, label=key, stamp=stamp
                )
                await asyncio.to_thread(target.unlink)
                report(outcome)
        for key, doc in known.items():
            if key not in present and await self.remove(member_id, key):
                report(IngestOutcome(key, "removed", doc.chunks))
        return outcomes

    async def remove(self, member_id: str, key: str) -> bool:
        removed = await self._repo.remove_document(member_id, key)
        self._vectors.invalidate(member_id)
        return removed

    async def documents(self, member_id: str) -> list[StoredDocument]:
        return await self._repo.documents(member_id)

    async def find_document(self, member_id: str, name: str) -> StoredDocument | None:
        """A document by its key, or by its file name when only one document has it."""
        docs = await self._repo.documents(member_id)
        exact = [d for d in docs if d.key == name]
        if exact:
            return exact[0]
        named = [d for d in docs if d.name == name or d.key.endswith(f"/{name}")]
        return named[0] if len(named) == 1 else None

    async def passages_of(self, member_id: str, key: str) -> list[StoredChunk]:
        return await self._repo.chunks_of(member_id, key)

    async def portals(self) -> list[str]:
        return await self._repo.portals()


def _stamp(version: str) -> str:
    """What a remote document's stored digest is: sha256 of its source's version stamp."""
    return hashlib.sha256(f"version:{version}".encode()).hexdigest()


def _without_instructions(
    drafts: Iterable[tuple[str, tuple[str, ...], str]],
) -> tuple[list[tuple[str, tuple[str, ...], str]], tuple[str, ...]]:
    """Passages with the sentences that address the model ("ignore the instructions…", our own tags)
    taken out: a document is data, and text nobody reads on the page (hidden HTML, comments) or an
    uploaded file an attacker wrote must not steer the bot. Passages left empty are dropped."""
    kept: list[tuple[str, tuple[str, ...], str]] = []
    flagged: list[str] = []
    for source, headings, text in drafts:
        clean, found = strip_instructions(text)
        clean_headings = []
        for heading in headings:
            clean_heading, in_heading = strip_instructions(heading)
            found += in_heading
            if clean_heading.strip():
                clean_headings.append(clean_heading)
        flagged += [f"{f.rule}: {' '.join(f.snippet.split())[:80]}" for f in found]
        if clean.strip():
            kept.append((source, tuple(clean_headings), clean))
    return kept, tuple(dict.fromkeys(flagged))


def _digest(path: Path) -> tuple[str, int]:
    """sha256 and size, read in blocks (the reader's size cap is checked before parsing, not here)."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size
