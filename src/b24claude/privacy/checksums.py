"""Check digits of Russian document numbers and bank cards.

Every function takes the digits only (a ``str`` of ASCII digits) and answers whether they are a valid
number of that kind; the ``*_check`` helpers compute the check digits (used by the tests to build valid
numbers, and handy to explain a rejection).

Sources: Luhn (ISO/IEC 7812-1); INN — Order of the Federal Tax Service of 29.06.2012 N ММВ-7-6/435@;
SNILS — Pension Fund regulation (control number of the insurance account); OGRN — Order of the Ministry
of Taxes of 03.03.2004 N БГ-3-09/178 (mod 11, OGRNIP mod 13, last digit of the remainder).
"""

from __future__ import annotations

_INN10_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def _is_digits(value: str, *lengths: int) -> bool:
    return value.isascii() and value.isdigit() and (not lengths or len(value) in lengths)


def luhn_check(body: str) -> str:
    """The Luhn digit to append to ``body``."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(digits: str) -> bool:
    return _is_digits(digits) and len(digits) >= 2 and luhn_check(digits[:-1]) == digits[-1]


def _weighted(digits: str, weights: tuple[int, ...]) -> str:
    return str(sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10)


def inn_check(body: str) -> str:
    """Check digit(s) of an INN: 9 digits → 1 (legal entity), 10 digits → 2 (person)."""
    if len(body) == 9:
        return _weighted(body, _INN10_WEIGHTS)
    if len(body) == 10:
        first = _weighted(body, _INN12_WEIGHTS_11)
        return first + _weighted(body + first, _INN12_WEIGHTS_12)
    raise ValueError("an INN body has 9 or 10 digits")


def inn_valid(digits: str) -> bool:
    if not _is_digits(digits, 10, 12):
        return False
    body = digits[: 9 if len(digits) == 10 else 10]
    return inn_check(body) == digits[len(body) :]


def snils_check(body: str) -> str:
    """The two control digits of a SNILS body of 9 digits."""
    total = sum(int(d) * (9 - i) for i, d in enumerate(body))
    if total > 101:
        total %= 101
    return "00" if total in (100, 101) else f"{total:02d}"


def snils_valid(digits: str) -> bool:
    if not _is_digits(digits, 11):
        return False
    body = digits[:9]
    # Numbers up to 001-001-998 were issued before the control number existed: not verifiable.
    if int(body) <= 1_001_998:
        return False
    return snils_check(body) == digits[9:]


def ogrn_check(body: str) -> str:
    """The check digit of an OGRN (12-digit body, mod 11) or an OGRNIP (14-digit body, mod 13)."""
    if len(body) == 12:
        return str(int(body) % 11 % 10)
    if len(body) == 14:
        return str(int(body) % 13 % 10)
    raise ValueError("an OGRN body has 12 digits, an OGRNIP body 14")


def ogrn_valid(digits: str) -> bool:
    if not _is_digits(digits, 13, 15):
        return False
    return ogrn_check(digits[:-1]) == digits[-1]


def card_scheme_ok(digits: str) -> bool:
    """Whether the number starts like a payment card of a scheme with that length (IIN ranges)."""
    n = len(digits)
    if not _is_digits(digits) or not 13 <= n <= 19:
        return False
    two, four = int(digits[:2]), int(digits[:4])
    if (
        digits[0] == "4"
    ):  # Visa (the old 13-digit numbers are left out: Russian EAN-13 barcodes start with 46)
        return n in (16, 19)
    if 2200 <= four <= 2204:  # Mir
        return 16 <= n <= 19
    if 51 <= two <= 55 or 2221 <= four <= 2720:  # Mastercard, including the 2-series
        return n == 16
    if two in (34, 37):  # American Express
        return n == 15
    if 3528 <= four <= 3589:  # JCB
        return 16 <= n <= 19
    if two in (36, 38, 39) or 300 <= int(digits[:3]) <= 305:  # Diners Club
        return 14 <= n <= 19
    if two == 50 or 56 <= two <= 69:  # Maestro, UnionPay (62), Discover (6011, 65)
        return 13 <= n <= 19
    return False


def card_valid(digits: str) -> bool:
    return card_scheme_ok(digits) and luhn_valid(digits)
