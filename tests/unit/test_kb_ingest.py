"""Ingestion: every format, citations, whole sentences, bad input, atomic replacement, sync, isolation."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from b24claude.knowledge.chunking import sentences, split_section
from b24claude.ports.knowledge import Section
from tests.unit.kb_support import open_kb

BENCH = Path(__file__).resolve().parents[2] / "bench" / "data"
sys.path.insert(0, str(BENCH))
from kb_queries import CODES  # noqa: E402


async def test_every_format_of_the_bench_base_is_read_with_its_citations() -> None:
    async with open_kb() as kb:
        outcomes = await kb.service.add("p1", [BENCH / "kb_velograd"])
        assert {o.status for o in outcomes} == {"added"}
        docs = await kb.service.documents("p1")
        assert {d.format for d in docs} == {"markdown", "text", "html", "pdf", "docx", "faq-xlsx", "faq-csv"}
        sources = {c.source for d in docs for c in await kb.service.passages_of("p1", d.key)}
        assert set(CODES.values()) <= sources
        html = await kb.service.passages_of("p1", "vozvrat.html")
        assert all("не текст" not in c.text and "Главная" not in c.text for c in html)  # script, nav dropped
        pdf = await kb.service.passages_of("p1", "garantiya.pdf")
        assert pdf[0].headings == ("Гарантия ВелоГрада", "Гарантийный срок")


def test_passages_keep_whole_sentences_and_their_heading_path() -> None:
    text = " ".join(f"Предложение номер {i} про доставку т. е. про курьера, г. Москва." for i in range(40))
    chunks = list(split_section(Section(headings=("Доставка", "Курьер"), text=text), max_chars=300))
    assert len(chunks) > 3
    assert all(c.endswith("Москва.") and len(c) <= 300 for c in chunks)
    assert " ".join(chunks) == text
    assert sentences("Цена 3.5 тыс. руб. за день. Залог — 5 000 ₽!") == [
        "Цена 3.5 тыс. руб. за день.",
        "Залог — 5 000 ₽!",
    ]


async def test_bad_files_get_clear_reasons_and_the_rest_of_the_batch_is_ingested(tmp_path: Path) -> None:
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7\n this is not a pdf at all")
    (tmp_path / "empty.md").write_bytes(b"")
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as f:  # sparse: 200 MB on paper, nothing on disk
        f.truncate(200 * 1024 * 1024)
    (tmp_path / "faq.csv").write_text("номер,текст\n1,что-то\n", encoding="utf-8")
    (tmp_path / "notes.odt").write_bytes(b"PK\x03\x04")
    (tmp_path / "fake.docx").write_bytes(b"not a zip")
    (tmp_path / "good.md").write_text("# Доставка\n\nКурьер привозит заказ за один день.\n", encoding="utf-8")
    async with open_kb() as kb:
        outcomes = {Path(o.path).name: o for o in await kb.service.add("p1", [tmp_path])}
        assert outcomes["good.md"].status == "added"
        reasons = {name: o.error for name, o in outcomes.items() if o.status == "failed"}
        assert set(reasons) == {"broken.pdf", "empty.md", "huge.txt", "faq.csv", "notes.odt", "fake.docx"}
        assert "PDF" in reasons["broken.pdf"]
        assert "empty" in reasons["empty.md"] and "пуст" in reasons["empty.md"]
        assert "200 MB" in reasons["huge.txt"] and "50 MB" in reasons["huge.txt"]
        assert "'question' and 'answer'" in reasons["faq.csv"] and "номер, текст" in reasons["faq.csv"]
        assert "unknown format '.odt'" in reasons["notes.odt"]
        assert "DOCX" in reasons["fake.docx"]
        assert [d.key for d in await kb.service.documents("p1")] == ["good.md"]


async def test_a_changed_document_replaces_its_passages_and_sync_removes_deleted_ones(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / "dostavka.md").write_text(
        "# Доставка\n\nДоставка по Москве стоит 490 рублей.\n", encoding="utf-8"
    )
    (base / "oplata.md").write_text("# Оплата\n\nПринимаем карты и наличные.\n", encoding="utf-8")
    async with open_kb() as kb:
        first = await kb.service.sync("p1", base)
        assert sorted(o.status for o in first) == ["added", "added"]
        top = await kb.search.search("p1", "сколько стоит доставка")
        assert "490" in top[0].text

        (base / "dostavka.md").write_text(
            "# Доставка\n\nДоставка по Москве стоит 990 рублей.\n", encoding="utf-8"
        )
        (base / "oplata.md").unlink()
        second = {Path(o.path).name: o.status for o in await kb.service.sync("p1", base)}
        assert second == {"dostavka.md": "replaced", "oplata.md": "removed"}
        top = await kb.search.search("p1", "сколько стоит доставка")
        assert [p.text for p in top] == ["Доставка по Москве стоит 990 рублей."]
        assert await kb.search.search("p1", "карты и наличные") == []
        third = await kb.service.sync("p1", base)
        assert [o.status for o in third] == ["unchanged"]


async def test_a_failed_re_ingest_keeps_the_previous_version(tmp_path: Path) -> None:
    doc = tmp_path / "faq.csv"
    doc.write_text('id,question,answer\nq1,Есть ли доставка?,"Да, по всей России."\n', encoding="utf-8")
    async with open_kb() as kb:
        await kb.service.add("p1", [doc])
        doc.write_text("id,вопрос\nq1,Есть ли доставка?\n", encoding="utf-8")
        [outcome] = await kb.service.add("p1", [doc])
        assert outcome.status == "failed"
        [chunk] = await kb.service.passages_of("p1", "faq.csv")
        assert (chunk.source, chunk.text) == ("q1", "Да, по всей России.")


async def test_a_portal_never_sees_another_portals_passages(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(
        "# Гарантия\n\nГарантия на самокаты портала А — 3 года.\n", encoding="utf-8"
    )
    async with open_kb() as kb:
        await kb.service.add("portal-a", [tmp_path / "a.md"])
        for mode in ("hybrid", "bm25", "vector"):
            assert await kb.search.hits("portal-b", "гарантия на самокаты", mode=mode) == []  # type: ignore[arg-type]
            assert [h.chunk.member_id for h in await kb.search.hits("portal-a", "гарантия", mode=mode)] == [
                "portal-a"
            ]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "source"),
    [
        ("ljcnfdrf gj vjcrdt", "dostavka.md#Доставка по Москве"),  # ЙЦУКЕН typed on QWERTY
        ("досавка в другие горда", "dostavka.md#Доставка по России"),  # typos
        ("What is the warranty on the frame?", "garantiya.pdf#Гарантийный срок"),  # English
        ("велик в прокат на день почём", "prokat.txt#Тарифы проката"),  # slang
        ("рассрочками на велосипеды", "oplata.md#Рассрочка"),  # inflection
        ("Как применить промокод?", "faq-promo"),  # FAQ row by its id
    ],
)
async def test_repaired_queries_find_their_passage(query: str, source: str) -> None:
    async with open_kb() as kb:
        await kb.service.add("p1", [BENCH / "kb_velograd"])
        hits = await kb.search.hits("p1", query, limit=3)
        assert source in [h.chunk.source for h in hits]


def test_the_bench_set_is_labelled_with_passages_that_exist() -> None:
    rows = [
        json.loads(line) for f in ("kb_ru_dev.jsonl", "kb_ru_holdout.jsonl") for line in (BENCH / f).open()
    ]
    assert len(rows) >= 150
    assert {r["kind"] for r in rows} >= {
        "paraphrase",
        "inflection",
        "typos",
        "layout",
        "slang",
        "long",
        "english",
        "two-docs",
        "unanswerable",
    }
    assert all(set(r["relevant"]) <= set(CODES.values()) for r in rows)
    assert len({r["id"] for r in rows}) == len(rows)


def test_html_inside_wrapper_divs_keeps_its_headings_and_paragraphs() -> None:
    """Pages wrap content in divs (a Bitrix24 knowledge-base block: ``<div class="block-wrapper">``):
    the wrapper is not a paragraph, and what it holds is not lost."""
    from b24claude.adapters.documents.html import html_sections

    html = (
        '<html><body><div class="block-wrapper"><h2>Сроки</h2><p>За 3 дня.</p>'
        "<div>Ещё <b>текст</b></div><ul><li>один</li></ul></div><div>отдельно</div></body></html>"
    )
    _, sections = html_sections(html)
    assert [(s.headings, s.text) for s in sections] == [(("Сроки",), "За 3 дня.\nЕщё текст\nодин\nотдельно")]
