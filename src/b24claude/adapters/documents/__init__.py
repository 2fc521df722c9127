"""File readers for the knowledge base: Markdown, text, HTML, PDF, DOCX, FAQ tables (CSV, XLSX).

Each format is read by a registry parser (selectolax, pypdf, python-docx, openpyxl); what they raise
becomes :class:`~b24claude.ports.knowledge.DocumentError` with a reason a person can act on.
"""

from b24claude.adapters.documents.reader import SUPPORTED_SUFFIXES, FileDocumentReader

__all__ = ["SUPPORTED_SUFFIXES", "FileDocumentReader"]
