"""Context words around a candidate: what the writer said the number is.

The window before a candidate stops at the previous number or sentence end, so "родилась 12.03.1990,
заказ доставлен 15.05.2026" does not lend the birth context to the delivery date; the nearest keyword
wins ("номер заказа и телефон 8916…" is a phone).
"""

from __future__ import annotations

import re

# Category → keyword stems (lower case; matched on the lower-cased window).
_KEYWORDS: dict[str, str] = {
    "phone": r"тел|phone|mobile|моб|сотов|звон|набер|набир|whats|ватс|вотс|вацап|вацап|viber|вайбер|"
    r"telegram|телег|\bтг\b|\bсмс\b|\bsms\b|\bсвяз|\bконтакт|\bномер\s+мой|"
    # A person's number: "мой номер", "её номер", "номер мамы" is a phone, not an order's number.
    r"\b(?:мой|моя|мо[её]|е[её]|его|их|твой|наш)\s+(?:номер|сотовый|мобильный)|"
    r"\bномер\s+(?:мамы|папы|мужа|жены|сына|дочери|брата|сестры|курьера|получателя)",
    "inn": r"\bинн\b|\binn\b|налогоплательщик",
    "snils": r"снил[сз]|\bsnils|страхов|пенсион|\bпфр\b|\bсфр\b",
    "passport": r"пас+порт|\bпасп\b|\bсерия\b|\bсерии\b|\bсер\.|загран|удостоверени|\bдокумент|\bpassport",
    "ogrn": r"огрн|\bogrn",
    "card": r"карт[аыуеоi]|\bкарт\b|\bcard|\bvisa|\bвиза\b|master|мастеркард|maestro|маэстро|\bмир\b|\bmir\b|"
    r"\bсбер|тиньк|\bальфа|\bвтб|\bcvv|\bcvc|списал|спишите|оплат",
    # Numbers that only look like PII: orders, parcels, articles, money, documents that are not ID papers.
    "anti": r"заказ|\bтрек|track|отслеж|отправлени|накладн|посылк|сдэк|cdek|сдек|boxberry|боксберри|"
    r"почта\s+росс|\bпочты\s+росс|\bартикул|\bарт\b|\bарт\.|код\s+товар|\bмодел|\bсч[её]т|\bдоговор|"
    r"\bid\b|\bзаявк|обращени|тикет|ticket|\bчек|квитанц|штрих|баркод|\bsku|плат[её]ж|транзакц|"
    r"\bопераци|лицев|промокод|купон|сертификат|\bпарти|серийн|imei|\bs/?n\b|инвентар|лояльн|бонусн|"
    r"дисконт|подарочн|клубн|\bр/с\b|\bк/с\b|\bокпо|\bоктмо|\bокато|\bоквэд|\bпин|\bpin\b|"
    r"\bкод\b|\bпароль|\bлогин|\bверси|\bотправк|\bпоезд|\bрейс|\bвагон|\bбилет|\bинвойс|\binvoice|\border",
    # A number sign makes a bare number an identifier of something; it does not veto a keyword.
    "sign": r"№|#|\bn\s?[o°]\b",
    "number": r"\bномер|\bnumber|\bкод\b",
}
_KEYWORD_RE = {cat: re.compile(pattern) for cat, pattern in _KEYWORDS.items()}
# Where the window before a candidate stops: a digit or a sentence boundary.
_BARRIER = re.compile(r"\d|[!?\n]|\.\s+(?=[A-ZА-ЯЁ])")
# Across a question: "нужен паспорт? у меня 4510123456" answers the question.
_QUESTION_BARRIER = re.compile(r"\d|[!\n]|\.\s+(?=[A-ZА-ЯЁ])")
WINDOW = 40

_AFTER_UNITS = re.compile(
    r"\s*(?:руб|р\.|р\b|₽|rub|usd|\$|€|eur|тыс|млн|шт|штук|кг|гр\b|г\b|мм|см\b|м\b|км|мин|час|сек|%|лет|"
    r"год|дн|мес|мл\b|л\b|gb|гб|mb|мб|tb|тб|вт\b|квт|w\b|mah|мач|ампер|дюйм|\"|х\s?\d|x\s?\d|\*\s?\d)",
    re.IGNORECASE,
)


def window_before(text: str, start: int, size: int = WINDOW, *, across_question: bool = False) -> str:
    """The lower-cased text before ``start`` back to the previous number or sentence end (with
    ``across_question``, a question mark does not end it: the number may answer the question)."""
    left = text[max(0, start - size) : start]
    cut = 0
    for m in (_QUESTION_BARRIER if across_question else _BARRIER).finditer(left):
        cut = m.end()
    return left[cut:].lower()


def nearest_category(window: str, categories: tuple[str, ...]) -> tuple[str | None, int]:
    """The category whose keyword ends closest to the end of ``window`` and how many characters lie
    between that keyword and the end (``(None, len(window))``: no keyword)."""
    best: tuple[int, str] | None = None
    for cat in categories:
        last = None
        for m in _KEYWORD_RE[cat].finditer(window):
            last = m
        if last is not None and (best is None or last.end() > best[0]):
            best = (last.end(), cat)
    if best is None:
        return None, len(window)
    return best[1], len(window) - best[0]


def has_keyword(window: str, category: str) -> bool:
    return _KEYWORD_RE[category].search(window) is not None


def unit_after(text: str, end: int) -> bool:
    """Whether a unit of money, count or measure follows (a price or a quantity, not PII)."""
    return _AFTER_UNITS.match(text, end) is not None
