"""Check digits of the Russian identifiers and bank cards, written for the labelled PII set.

Kept apart from the product's detector on purpose: the set must be built independently of what it
measures. Every function takes a string of digits (no spaces or dashes).
"""

from __future__ import annotations

_INN10_W = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_W1 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_W2 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_digit(partial: str) -> str:
    """The digit that makes ``partial + digit`` pass Luhn."""
    for d in "0123456789":
        if luhn_ok(partial + d):
            return d
    raise AssertionError("unreachable")


def _weighted(digits: str, weights: tuple[int, ...]) -> str:
    return str(sum(int(c) * w for c, w in zip(digits, weights, strict=True)) % 11 % 10)


def inn10_digit(first9: str) -> str:
    return _weighted(first9, _INN10_W)


def inn12_digits(first10: str) -> str:
    d11 = _weighted(first10, _INN12_W1)
    return d11 + _weighted(first10 + d11, _INN12_W2)


def inn_ok(digits: str) -> bool:
    if len(digits) == 10:
        return digits[9] == inn10_digit(digits[:9])
    if len(digits) == 12:
        return digits[10:] == inn12_digits(digits[:10])
    return False


def snils_digits(first9: str) -> str:
    total = sum(int(c) * (9 - i) for i, c in enumerate(first9))
    if total < 100:
        check = total
    elif total in (100, 101):
        check = 0
    else:
        check = total % 101
        if check == 100:
            check = 0
    return f"{check:02d}"


def snils_ok(digits: str) -> bool:
    return len(digits) == 11 and digits[9:] == snils_digits(digits[:9])


def ogrn_digit(body: str) -> str:
    """Check digit of an OGRN (12-digit body, mod 11) or an OGRNIP (14-digit body, mod 13)."""
    modulus = 11 if len(body) == 12 else 13
    return str(int(body) % modulus % 10)


def ogrn_ok(digits: str) -> bool:
    return len(digits) in (13, 15) and digits[-1] == ogrn_digit(digits[:-1])


def ean13_digit(first12: str) -> str:
    total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(first12))
    return str((10 - total % 10) % 10)


def valid_as(digits: str) -> set[str]:
    """Which checksummed PII types a bare run of digits would pass as (by its length)."""
    found: set[str] = set()
    if len(digits) == 16 and luhn_ok(digits):
        found.add("card")
    if len(digits) in (10, 12) and inn_ok(digits):
        found.add("inn")
    if len(digits) == 11 and snils_ok(digits):
        found.add("snils")
    if len(digits) in (13, 15) and ogrn_ok(digits):
        found.add("ogrn")
    return found
