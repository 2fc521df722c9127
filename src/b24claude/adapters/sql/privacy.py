"""SQL implementations of the privacy ports (``b24claude.ports.privacy``).

Vault values pass through the secrets codec (Fernet when keys are configured) and are found again
by a keyed digest of their normalised form; the digest function comes from the composition root.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence

from sqlalchemy import delete, func, select

from b24claude.adapters.sql.codec import IdentityCodec, SecretsCodec
from b24claude.adapters.sql.engine import SqlDatabase
from b24claude.adapters.sql.tables import audit_log, client_consents, dialogue_subjects, pii_vault
from b24claude.ports.privacy import AuditRecord, ConsentRecord, DialogueSubject, PiiType, VaultEntry

Digest = Callable[[str], str]


def plain_digest(value: str) -> str:
    """An unkeyed SHA-256: only for stores built without a keyring (tests, tools)."""
    return hashlib.sha256(value.encode()).hexdigest()


class SqlPiiVault:
    def __init__(
        self, db: SqlDatabase, *, codec: SecretsCodec | None = None, digest: Digest = plain_digest
    ) -> None:
        self._db = db
        self._codec: SecretsCodec = codec or IdentityCodec()
        self._digest = digest

    def _key(self, pii_type: str, normalised: str) -> str:
        return self._digest(f"{pii_type}:{normalised}") if normalised else ""

    async def entries(self, member_id: str, dialog_key: str) -> list[VaultEntry]:
        v = pii_vault.c
        stmt = (
            select(v.placeholder, v.pii_type, v.value)
            .where(v.member_id == member_id, v.dialog_key == dialog_key)
            .order_by(v.seq)
        )
        async with self._db.read("vault.entries") as conn:
            rows = (await conn.execute(stmt)).all()
        return [VaultEntry(r.placeholder, r.pii_type, self._codec.decode(r.value)) for r in rows]

    async def add(self, member_id: str, dialog_key: str, entries: Sequence[VaultEntry]) -> None:
        if not entries:
            return
        v = pii_vault.c
        now = time.time()
        async with self._db.write("vault.add") as conn:
            start: int = (
                await conn.execute(
                    select(func.coalesce(func.max(v.seq), 0)).where(
                        v.member_id == member_id, v.dialog_key == dialog_key
                    )
                )
            ).scalar_one()
            rows = [
                {
                    "member_id": member_id,
                    "dialog_key": dialog_key,
                    "placeholder": e.placeholder,
                    "pii_type": e.pii_type,
                    "value": self._codec.encode(e.value),
                    "digest": self._key(e.pii_type, e.normalised),
                    "seq": int(start) + i + 1,
                    "created_at": now,
                }
                for i, e in enumerate(entries)
            ]
            await conn.execute(self._db.insert(pii_vault).values(rows).on_conflict_do_nothing())

    async def dialogues_with(self, member_id: str, pii_type: PiiType, normalised: str) -> list[str]:
        if not normalised:
            return []
        v = pii_vault.c
        stmt = (
            select(v.dialog_key)
            .where(v.member_id == member_id, v.digest == self._key(pii_type, normalised))
            .distinct()
            .order_by(v.dialog_key)
        )
        async with self._db.read("vault.dialogues_with") as conn:
            return list((await conn.execute(stmt)).scalars().all())


class SqlSubjectRepository:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def bind(self, subject: DialogueSubject) -> None:
        values = {
            "member_id": subject.member_id,
            "dialog_key": subject.dialog_key,
            "author_id": subject.author_id,
            "contact_id": subject.contact_id,
            "lead_id": subject.lead_id,
            "company_id": subject.company_id,
            "updated_at": time.time(),
        }
        insert = self._db.insert(dialogue_subjects).values(values)
        stmt = insert.on_conflict_do_update(
            index_elements=["member_id", "dialog_key"],
            set_={k: insert.excluded[k] for k in values if k not in ("member_id", "dialog_key")},
        )
        async with self._db.write("subjects.bind") as conn:
            await conn.execute(stmt)

    async def get(self, member_id: str, dialog_key: str) -> DialogueSubject | None:
        s = dialogue_subjects.c
        stmt = select(dialogue_subjects).where(s.member_id == member_id, s.dialog_key == dialog_key)
        async with self._db.read("subjects.get") as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return None
        return DialogueSubject(
            member_id=row.member_id,
            dialog_key=row.dialog_key,
            author_id=int(row.author_id),
            contact_id=row.contact_id,
            lead_id=row.lead_id,
            company_id=row.company_id,
        )

    async def dialogues_of(
        self,
        member_id: str,
        *,
        contact_id: int | None = None,
        author_id: int | None = None,
        lead_id: int | None = None,
        company_id: int | None = None,
    ) -> list[str]:
        s = dialogue_subjects.c
        wanted = [
            (col, value)
            for col, value in (
                (s.contact_id, contact_id),
                (s.author_id, author_id),
                (s.lead_id, lead_id),
                (s.company_id, company_id),
            )
            if value is not None
        ]
        if not wanted:
            return []
        stmt = select(s.dialog_key).where(s.member_id == member_id)
        for col, value in wanted:
            stmt = stmt.where(col == value)
        async with self._db.read("subjects.dialogues_of") as conn:
            return list((await conn.execute(stmt.order_by(s.dialog_key))).scalars().all())


class SqlConsentRepository:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def get(self, member_id: str, client_key: str) -> bool | None:
        c = client_consents.c
        stmt = select(c.granted).where(c.member_id == member_id, c.client_key == client_key)
        async with self._db.read("consents.get") as conn:
            value = (await conn.execute(stmt)).scalar_one_or_none()
        return None if value is None else bool(value)

    async def set(self, member_id: str, client_key: str, granted: bool, *, source: str) -> None:
        values = {
            "member_id": member_id,
            "client_key": client_key,
            "granted": granted,
            "source": source,
            "updated_at": time.time(),
        }
        insert = self._db.insert(client_consents).values(values)
        stmt = insert.on_conflict_do_update(
            index_elements=["member_id", "client_key"],
            set_={k: insert.excluded[k] for k in ("granted", "source", "updated_at")},
        )
        async with self._db.write("consents.set") as conn:
            await conn.execute(stmt)

    async def delete(self, member_id: str, client_key: str) -> int:
        c = client_consents.c
        stmt = delete(client_consents).where(c.member_id == member_id, c.client_key == client_key)
        async with self._db.write("consents.delete") as conn:
            return int((await conn.execute(stmt)).rowcount or 0)

    async def list(self, member_id: str, *, limit: int = 200) -> list[ConsentRecord]:
        c = client_consents.c
        stmt = (
            select(c.client_key, c.granted, c.source, c.updated_at)
            .where(c.member_id == member_id)
            .order_by(c.updated_at.desc(), c.client_key)
            .limit(limit)
        )
        async with self._db.read("consents.list") as conn:
            rows = (await conn.execute(stmt)).all()
        return [ConsentRecord(str(r[0]), bool(r[1]), str(r[2] or ""), float(r[3] or 0)) for r in rows]


class SqlAuditRepository:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def add(self, record: AuditRecord) -> int:
        stmt = audit_log.insert().values(
            member_id=record.member_id,
            action=record.action,
            actor=record.actor,
            subject=record.subject,
            details=dict(record.details),
            created_at=record.created_at or time.time(),
        )
        async with self._db.write("audit.add") as conn:
            result = await conn.execute(stmt)
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    async def list(self, member_id: str, *, limit: int = 100) -> list[AuditRecord]:
        a = audit_log.c
        stmt = (
            select(audit_log)
            .where(a.member_id == member_id)
            .order_by(a.created_at.desc(), a.id.desc())
            .limit(limit)
        )
        async with self._db.read("audit.list") as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            AuditRecord(
                id=int(r.id),
                member_id=r.member_id,
                action=r.action,
                actor=r.actor,
                subject=r.subject,
                details=r.details,
                created_at=float(r.created_at),
            )
            for r in rows
        ]
