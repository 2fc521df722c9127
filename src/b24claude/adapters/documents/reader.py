"""One reader for every supported file: the format from the suffix, a size cap, clear errors."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from b24claude.adapters.documents.faq import csv_rows, faq_sections, xlsx_rows
from b24claude.adapters.documents.html import html_sections
from b24claude.adapters.documents.office import docx_sections, pdf_sections
from b24claude.adapters.documents.plain import markdown_sections, text_sections
from b24claude.ports.knowledge import DocumentError, DocumentFormat, ParsedDocument, Section

SUPPORTED_SUFFIXES: dict[str, DocumentFormat] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".csv": "faq-csv",
    ".xlsx": "faq-xlsx",
}


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1251")


class FileDocumentReader:
    """Reads a file of a supported format into sections; ``max_bytes`` caps the size read at all."""

    def __init__(self, *, max_bytes: int = 50 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes

    def check(self, path: Path) -> DocumentFormat:
        self.check_name(path.name, None)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise DocumentError(f"cannot read the file / файл не читается: {exc.strerror}") from exc
        return self.check_name(path.name, size)

    def check_name(self, name: str, size: int | None) -> DocumentFormat:
        suffix = PurePosixPath(name).suffix
        fmt = SUPPORTED_SUFFIXES.get(suffix.lower())
        if fmt is None:
            known = ", ".join(sorted(SUPPORTED_SUFFIXES))
            raise DocumentError(
                f"unknown format {suffix or '(no suffix)'!r}; supported: {known} / "
                f"неизвестный формат; поддерживаются: {known}"
            )
        if size is None:
            return fmt
        if size == 0:
            raise DocumentError("the file is empty / файл пуст")
        if size > self.max_bytes:
            mb = self.max_bytes / 1024 / 1024
            raise DocumentError(
                f"the file is {size / 1024 / 1024:.0f} MB, over the {mb:.0f} MB limit (B24C_KB_MAX_FILE_MB) / "
                f"файл больше предела {mb:.0f} МБ"
            )
        return fmt

    def read(self, path: Path) -> ParsedDocument:
        fmt = self.check(path)
        title, sections = self._sections(path, fmt)
        if not sections:
            raise DocumentError("no text found in the file / в файле нет текста")
        return ParsedDocument(name=path.name, format=fmt, sections=sections, title=title)

    def _sections(self, path: Path, fmt: DocumentFormat) -> tuple[str, list[Section]]:
        if fmt == "pdf":
            return "", pdf_sections(path)
        if fmt == "docx":
            return "", docx_sections(path)
        if fmt == "faq-xlsx":
            return "", faq_sections(path.name, xlsx_rows(path))
        data = path.read_bytes()
        if fmt == "faq-csv":
            return "", faq_sections(path.name, csv_rows(data))
        text = _decode(data)
        if not text.strip():
            raise DocumentError("the file is empty / файл пуст")
        if fmt == "html":
            return html_sections(text)
        if fmt == "markdown":
            return "", markdown_sections(text)
        return "", text_sections(text)
