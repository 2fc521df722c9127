"""Build the «ВелоГрад» knowledge-base bench set: the documents in their formats and the queries.

    .venv/bin/python bench/data/build_kb_set.py

Writes ``kb_velograd/`` (Markdown, text, HTML, PDF, DOCX, FAQ tables in XLSX and CSV) and
``kb_ru_dev.jsonl`` / ``kb_ru_holdout.jsonl``: one ``{"id", "kind", "query", "relevant": [...]}`` per
line; ``relevant`` are citation labels as ``kb search`` prints them. Every fourth query of each kind
is holdout (never used for tuning). Typo and keyboard-layout variants are derived with a fixed seed.
"""

from __future__ import annotations

import csv
import html
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from kb_docs import DOCS, FAQ  # noqa: E402
from kb_queries import CODES, QUERIES, SEEDS_FOR_NOISE  # noqa: E402

OUT = HERE / "kb_velograd"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
TITLES = {
    "dostavka.md": "Доставка",
    "oplata.md": "Оплата",
    "vozvrat.html": "Возврат и обмен",
    "garantiya.pdf": "Гарантия ВелоГрада",
    "servis.docx": "Сервисная мастерская",
    "prokat.txt": "Прокат",
    "bonusy.md": "Программа лояльности ВелоКлуб",
    "samokaty.html": "Электросамокаты: эксплуатация",
    "razmer.md": "Как выбрать велосипед",
    "kontakty.txt": "Контакты ВелоГрада",
    "trade-in.docx": "Trade-in",
}


def write_docs() -> None:
    OUT.mkdir(exist_ok=True)
    for name, sections in DOCS.items():
        title = TITLES[name]
        path = OUT / name
        if name.endswith(".md"):
            body = [f"# {title}", ""] + [f"## {h}\n\n{t}\n" for h, t in sections]
            path.write_text("\n".join(body), encoding="utf-8")
        elif name.endswith(".txt"):
            path.write_text(f"{title}\n\n" + "".join(f"{h}\n{t}\n\n" for h, t in sections), encoding="utf-8")
        elif name.endswith(".html"):
            parts = "".join(f"<h2>{html.escape(h)}</h2>\n<p>{html.escape(t)}</p>\n" for h, t in sections)
            page = (
                f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
                f"<script>var x = 'не текст';</script></head><body><nav>Главная | Каталог</nav>"
                f"<h1>{html.escape(title)}</h1>\n{parts}<footer>© ВелоГрад</footer></body></html>"
            )
            path.write_text(page, encoding="utf-8")
        elif name.endswith(".docx"):
            import docx

            d = docx.Document()
            d.add_heading(title, 0)
            for h, t in sections:
                d.add_heading(h, 1)
                d.add_paragraph(t)
            d.save(str(path))
        elif name.endswith(".pdf"):
            from fpdf import FPDF

            pdf = FPDF()
            pdf.add_page()
            pdf.add_font("DejaVu", fname=str(FONT))
            pdf.set_font("DejaVu", size=16)
            pdf.multi_cell(0, 9, title, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
            for h, t in sections:
                pdf.set_font("DejaVu", size=13)
                pdf.multi_cell(0, 8, h, new_x="LMARGIN", new_y="NEXT")
                pdf.set_font("DejaVu", size=10)
                pdf.multi_cell(0, 6, t, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(3)
            pdf.output(str(path))
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["id", "Вопрос", "Ответ"])
    for row in FAQ[:5]:
        sheet.append(list(row))
    book.save(OUT / "faq.xlsx")
    with (OUT / "faq-extra.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "question", "answer"])
        for row in FAQ[5:]:
            w.writerow(row)


_RU = "ёйцукенгшщзхъфывапролджэячсмитьбю"
_EN = "`qwertyuiop[]asdfghjkl;'zxcvbnm,."
_TO_LATIN = str.maketrans(dict(zip(_RU, _EN, strict=True)))
_NEIGHBOURS = {  # ЙЦУКЕН keys next to each other, for realistic substitutions
    "а": "вп",
    "о": "рл",
    "е": "кн",
    "и": "мт",
    "с": "чм",
    "т": "иь",
    "р": "по",
    "н": "ег",
    "к": "уе",
    "в": "ыа",
    "л": "од",
    "м": "си",
    "д": "лж",
    "п": "ар",
    "у": "цк",
    "я": "ч",
    "ы": "вф",
    "з": "щх",
}


def typo(text: str, rng: random.Random) -> str:
    words = text.split()
    candidates = [i for i, w in enumerate(words) if len(w) >= 5]
    for i in rng.sample(candidates, k=min(len(candidates), 1 if len(candidates) < 3 else 2)):
        w = list(words[i])
        op = rng.choice(["swap", "drop", "double", "near"])
        j = rng.randrange(1, len(w) - 1)
        if op == "swap":
            w[j], w[j + 1] = w[j + 1], w[j]
        elif op == "drop":
            del w[j]
        elif op == "double":
            w.insert(j, w[j])
        else:
            w[j] = rng.choice(_NEIGHBOURS.get(w[j], w[j]))
        words[i] = "".join(w)
    return " ".join(words)


def layout(text: str, rng: random.Random, whole: bool) -> str:
    if whole:
        return text.lower().translate(_TO_LATIN)
    words = text.split()
    i = max(range(len(words)), key=lambda k: (len(words[k]), -k))
    words[i] = words[i].lower().translate(_TO_LATIN)
    return " ".join(words)


def queries() -> list[dict[str, object]]:
    rng = random.Random(20261204)
    rows: list[tuple[str, str, str]] = list(QUERIES)
    for n, (code, seed) in enumerate(SEEDS_FOR_NOISE):
        rows.append(("typos", code, typo(seed, rng)))
        rows.append(("layout", code, layout(seed, rng, whole=n % 2 == 0)))
    out: list[dict[str, object]] = []
    seen: dict[str, int] = {}
    for kind, codes, query in rows:
        n = seen.get(kind, 0)
        seen[kind] = n + 1
        out.append(
            {
                "id": f"{kind}-{n + 1:03d}",
                "kind": kind,
                "query": query,
                "relevant": [CODES[c] for c in codes.split()],
                "split": "holdout" if n % 4 == 3 else "dev",
            }
        )
    return out


def main() -> None:
    write_docs()
    rows = queries()
    for split in ("dev", "holdout"):
        with (HERE / f"kb_ru_{split}.jsonl").open("w", encoding="utf-8") as f:
            for r in rows:
                if r["split"] == split:
                    record = {k: v for k, v in r.items() if k != "split"}
                    f.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"{len(DOCS) + 2} documents in {OUT.name}/, {len(rows)} queries")


if __name__ == "__main__":
    main()
