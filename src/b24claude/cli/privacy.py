"""``b24claude privacy …`` — redaction, keys, retention, the rights of the people in the chats.

Each group of commands lives in its own section; the heavy imports happen inside the commands so
``b24claude --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from b24claude.ports.privacy import PiiType

privacy_app = typer.Typer(
    no_args_is_help=True,
    help="PII redaction, keys, retention, erasure and export / ПДн: маскирование, ключи, сроки хранения, "
    "удаление и выгрузка.",
)


# --- detection: redact ------------------------------------------------------------------------------


def _parse_types(value: str | None) -> list[PiiType] | None:
    from b24claude.ports.privacy import PII_TYPES

    if not value:
        return None
    names = [t.strip() for t in value.split(",") if t.strip()]
    unknown = sorted(set(names) - set(PII_TYPES))
    if unknown:
        raise typer.BadParameter(
            f"unknown PII types / неизвестные типы ПДн: {', '.join(unknown)}; known / известные: {', '.join(PII_TYPES)}"
        )
    return [t for t in PII_TYPES if t in names]


@privacy_app.command("redact")
def redact(
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print {text, spans} per line / Печатать {text, spans} на каждую строку",
        ),
    ] = False,
    types: Annotated[
        str | None,
        typer.Option(
            "--types",
            help="Only these types, comma-separated (default: all) / Только эти типы через запятую (по умолчанию все): "
            "phone,email,card,inn,snils,passport,ogrn,birthdate,address,name",
        ),
    ] = None,
) -> None:
    """Mask PII in messages read one per line on stdin / Замаскировать ПДн в сообщениях со stdin.

    One output line per input line. With --json: {"text": masked, "spans": [{type, start, end, value}]};
    offsets refer to the original line without its newline.

    По строке на каждую входную. С --json: {"text": с заменами, "spans": [...]}; смещения — в исходной
    строке без перевода строки.
    """
    import io
    import json
    import sys

    from b24claude.privacy.detect import PiiDetector

    wanted = _parse_types(types)
    detector = PiiDetector()
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="\n")
    out = sys.stdout.buffer
    interactive = sys.stdout.isatty()
    for raw in stdin:
        line = raw[:-1] if raw.endswith("\n") else raw
        if line.endswith("\r"):
            line = line[:-1]
        masked, spans = detector.redact(line, wanted)
        if as_json:
            record = {
                "text": masked,
                "spans": [{"type": s.type, "start": s.start, "end": s.end, "value": s.value} for s in spans],
            }
            text = json.dumps(record, ensure_ascii=False)
        else:
            text = masked
        out.write(text.encode("utf-8") + b"\n")
        if interactive:
            out.flush()
    out.flush()


# --- keys: rotate-keys --------------------------------------------------------------------------------


# --- retention and rights: purge, erase, export, consent, audit ---------------------------------------
