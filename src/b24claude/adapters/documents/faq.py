"""FAQ tables (CSV, XLSX): one question/answer pair per row; an ``id`` column names the entry."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import openpyxl  # type: ignore[import-untyped]
from openpyxl.utils.exceptions import InvalidFileException  # type: ignore[import-untyped]

from b24claude.ports.knowledge import DocumentError, Section

_QUESTION = ("question", "вопрос", "q")
_ANSWER = ("answer", "ответ", "a")
_ID = ("id", "код", "идентификатор")


def _column(header: Sequence[str], names: Iterable[str]) -> int | None:
    wanted = set(names)
    for i, cell in enumerate(header):
        if cell.strip().lower() in wanted:
            return i
    return None


def _cell(row: Sequence[str], i: int | None) -> str:
    return row[i].strip() if i is not None and i < len(row) else ""


def faq_sections(name: str, rows: list[list[str]]) -> list[Section]:
    if not rows:
        raise DocumentError("the table is empty / таблица пуста")
    header = rows[0]
    q, a, ident = _column(header, _QUESTION), _column(header, _ANSWER), _column(header, _ID)
    if q is None or a is None:
        found = ", ".join(h for h in header if h.strip()) or "none / нет"
        raise DocumentError(
            f"an FAQ table needs 'question' and 'answer' columns (or 'вопрос' и 'ответ'); found: {found} / "
            f"в таблице FAQ нужны столбцы 'question' и 'answer' (или 'вопрос' и 'ответ')"
        )
    out: list[Section] = []
    for n, row in enumerate(rows[1:], start=1):
        question, answer = _cell(row, q), _cell(row, a)
        if not question or not answer:
            continue
        label = _cell(row, ident) or f"{name}#row {n}"
        out.append(Section(headings=(question,), text=answer, label=label))
    if not out:
        raise DocumentError(
            "the table has no question/answer rows / в таблице нет строк с вопросом и ответом"
        )
    return out


def csv_rows(data: bytes) -> list[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1251")  # Excel's "CSV" on a Russian Windows
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [list(r) for r in csv.reader(io.StringIO(text), dialect)]


def xlsx_rows(path: Path) -> list[list[str]]:
    """The first sheet's rows as strings."""
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise DocumentError(f"not a readable XLSX / XLSX не читается: {type(exc).__name__}") from exc
    try:
        sheet = book.worksheets[0]
        return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()
