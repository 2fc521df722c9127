"""PDF (pypdf) and DOCX (python-docx)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import pypdf
from docx.document import Document as DocxDocument
from docx.opc.exceptions import PackageNotFoundError
from pypdf.errors import PyPdfError

from b24claude.adapters.documents.plain import text_sections
from b24claude.ports.knowledge import DocumentError, Section


def pdf_sections(path: Path) -> list[Section]:
    """The text layer of every page (headings guessed as in plain text: PDFs carry no structure)."""
    try:
        reader = pypdf.PdfReader(path, strict=False)
        if reader.is_encrypted:
            raise DocumentError("the PDF is encrypted / PDF зашифрован")
        pages = [page.extract_text() or "" for page in reader.pages]
    except DocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, AttributeError, IndexError) as exc:
        raise DocumentError(f"not a readable PDF / PDF не читается: {type(exc).__name__}") from exc
    text = "\n\n".join(pages)
    if not text.strip():
        raise DocumentError("the PDF has no text layer (a scan?) / в PDF нет текстового слоя (скан?)")
    return text_sections(text, loose=True)


def _style_level(style_name: str) -> int | None:
    name = style_name.lower()
    if name in ("title", "название", "заголовок"):
        return 0
    for prefix in ("heading ", "заголовок "):
        rest = name[len(prefix) :].strip()
        if name.startswith(prefix) and rest.isdigit():
            return int(rest)
    return None


def docx_sections(path: Path) -> list[Section]:
    """Paragraphs under Title/Heading N styles; table rows as lines of cells."""
    try:
        document: DocxDocument = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise DocumentError(f"not a readable DOCX / DOCX не читается: {type(exc).__name__}") from exc
    path_stack: list[tuple[int, str]] = []
    lines: list[str] = []
    sections: list[Section] = []

    def flush() -> None:
        body = "\n".join(lines).strip()
        lines.clear()
        if body:
            sections.append(Section(headings=tuple(t for _, t in path_stack), text=body))

    for para in document.paragraphs:
        text = para.text.strip()
        style = para.style.name if para.style is not None and para.style.name else ""
        level = _style_level(style)
        if level is not None and text:
            flush()
            while path_stack and path_stack[-1][0] >= level:
                path_stack.pop()
            path_stack.append((level, text))
        elif text:
            lines.append(text)
    flush()
    for table in document.tables:
        rows = [" — ".join(c.text.strip() for c in row.cells if c.text.strip()) for row in table.rows]
        body = "\n".join(r for r in rows if r)
        if body:
            sections.append(Section(headings=tuple(t for _, t in path_stack[:1]), text=body))
    return sections
