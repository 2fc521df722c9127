"""The lookup form of a PII value: the same person's phone or e-mail written differently normalises to
the same string, so the vault can be searched by a keyed digest of it (erasure, export).

Types with no stable written form (names, addresses) are not searchable: ``""``.
"""

from __future__ import annotations

import re

from b24claude.ports.privacy import PiiType

_NON_DIGITS = re.compile(r"\D+")
_DATE = re.compile(r"(\d{1,2})\D+(\d{1,2})\D+(\d{2,4})")


def normalise(pii_type: PiiType, value: str) -> str:
    value = value.strip()
    if pii_type == "email":
        return value.lower()
    if pii_type == "phone":
        digits = _NON_DIGITS.sub("", value)
        # +7 / 8 prefixes of Russian numbers: the last ten digits identify the line.
        if len(digits) == 11 and digits[0] in "78":
            digits = digits[1:]
        return digits
    if pii_type in ("card", "inn", "snils", "ogrn", "passport"):
        return _NON_DIGITS.sub("", value)
    if pii_type == "birthdate":
        m = _DATE.search(value)
        if m is None:
            return ""
        day, month, year = int(m.group(1)), int(m.group(2)), m.group(3)
        return f"{day:02d}.{month:02d}.{year}"
    return ""
