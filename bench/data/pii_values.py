"""PII slot fillers of the labelled set (``Gen``): values in many written forms. Look-alikes: ``pii_lookalikes``.

A template names slots in braces: ``{phone}``, ``{name:fio:gen:f}``, ``{order}``. ``Gen.slot`` turns a
slot into a ``Fill``: the text, its PII type (``None`` for a look-alike) and tags saying what it
exercises. Written forms are taken round-robin from a shuffled cycle per slot, so every format of a
type appears in each file in about equal numbers. Every number is generated here: the checksummed
ones are valid, and the look-alike ones are re-drawn until they pass no checksum of their length.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from bench.data import pii_pools as P
from bench.data.pii_checksums import inn10_digit, inn12_digits, luhn_digit, ogrn_digit, snils_digits, valid_as
from bench.data.pii_fill import Fill
from bench.data.pii_lookalikes import LookalikeFills

CASE_INDEX = {c: i for i, c in enumerate(P.CASES)}

# Mobile phone layouts: {c} operator code, {a} 3 digits, {b} and {d} 2 digits each.
MOBILE_FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "plus_br": ("+7 ({c}) {a}-{b}-{d}", ("phone:plus7", "phone:bracketed", "phone:dashed")),
    "plus_br_tight": ("+7({c}){a}-{b}-{d}", ("phone:plus7", "phone:bracketed")),
    "plus_sp": ("+7 {c} {a} {b} {d}", ("phone:plus7", "phone:spaced")),
    "plus_dash": ("+7-{c}-{a}-{b}-{d}", ("phone:plus7", "phone:dashed")),
    "plus_cont": ("+7{c}{a}{b}{d}", ("phone:plus7", "phone:contiguous")),
    "plus_mix": ("+7 {c} {a}{b}{d}", ("phone:plus7", "phone:spaced")),
    "8_br": ("8 ({c}) {a}-{b}-{d}", ("phone:8", "phone:bracketed", "phone:dashed")),
    "8_br_tight": ("8({c}){a}{b}{d}", ("phone:8", "phone:bracketed")),
    "8_cont": ("8{c}{a}{b}{d}", ("phone:8", "phone:contiguous")),
    "8_dash": ("8-{c}-{a}-{b}-{d}", ("phone:8", "phone:dashed")),
    "8_sp": ("8 {c} {a} {b} {d}", ("phone:8", "phone:spaced")),
    "8_mix": ("8 {c} {a}-{b}{d}", ("phone:8", "phone:spaced")),
    "7_cont": ("7{c}{a}{b}{d}", ("phone:7", "phone:contiguous")),
    "7_sp": ("7 {c} {a}-{b}-{d}", ("phone:7", "phone:spaced")),
    "10_cont": ("{c}{a}{b}{d}", ("phone:no-prefix", "phone:contiguous")),
    "10_sp": ("{c} {a}-{b}-{d}", ("phone:no-prefix", "phone:spaced")),
    "10_br": ("({c}) {a}-{b}-{d}", ("phone:no-prefix", "phone:bracketed")),
}
CITY_FORMATS = [
    "+7 ({c}) {a}-{b}-{d}",
    "8 ({c}) {a}-{b}-{d}",
    "({c}) {a}-{b}-{d}",
    "8 {c} {a}{b}{d}",
    "+7 {c} {a} {b} {d}",
    "8{c}{a}{b}{d}",
    "8-{c}-{a}-{b}-{d}",
]
FREE_FORMATS = [
    "8-800-{a}-{b}-{d}",
    "8 800 {a} {b} {d}",
    "8 (800) {a}-{b}-{d}",
    "+7 800 {a}-{b}-{d}",
    "8800{a}{b}{d}",
]

CARD_PREFIXES: dict[str, Callable[[random.Random], str]] = {
    "visa": lambda r: r.choice(["4276", "4279", "4377", "4149", "4890", "4246", "4817", "4006"]),
    "mastercard": lambda r: r.choice(["51", "52", "53", "54", "55"]) + f"{r.randint(0, 99):02d}",
    "mastercard2": lambda r: str(r.randint(2221, 2720)),
    "mir": lambda r: f"220{r.randint(0, 4)}",
}


@dataclass(frozen=True, slots=True)
class Person:
    gender: str
    first: tuple[str, ...]  # six case forms
    patronymic: str  # nominative
    surname: str  # nominative, already in the gender's form


def _decline_surname(kind: str, base: str, gender: str, case: str, ins: str = "") -> str:
    i = CASE_INDEX[case]
    if kind == "ov":
        ends = ("", "а", "у", "а", "ым", "е") if gender == "m" else ("а", "ой", "ой", "у", "ой", "ой")
        return base + ends[i]
    if kind == "sky":
        ends = (
            ("ий", "ого", "ому", "ого", "им", "ом") if gender == "m" else ("ая", "ой", "ой", "ую", "ой", "ой")
        )
        return base + ends[i]
    if kind == "cons" and gender == "m":
        return base + ("", "а", "у", "а", ins, "е")[i]
    return base


def _decline_patronymic(masc: str, fem: str, gender: str, case: str) -> str:
    i = CASE_INDEX[case]
    if gender == "m":
        return masc + ("", "а", "у", "а", "ем", "е")[i]
    return fem[:-1] + ("а", "ы", "е", "у", "ой", "е")[i]


class Gen(LookalikeFills):
    """All slot fillers for one file ("dev" or "holdout"), drawing from one seeded generator."""

    def __init__(self, part: str, rng: random.Random) -> None:
        super().__init__(rng)
        self.part = part
        self.male_first = P.split(P.MALE_FIRST, part)
        self.female_first = P.split(P.FEMALE_FIRST, part)
        self.diminutives = [*P.DIMINUTIVES_SHARED, *P.split(P.DIMINUTIVES, part)]
        self.surnames: list[tuple[str, str, str]] = [
            *[("ov", s, "") for s in P.split(P.SURNAMES_OV, part)],
            *[("sky", s, "") for s in P.split(P.SURNAMES_SKY, part)],
            *[("cons", s, ins) for s, ins in P.split(P.SURNAMES_CONS, part)],
            *[("indecl", s, "") for s in P.split(P.SURNAMES_INDECL, part)],
        ]
        self.streets = P.split(P.STREETS, part)

    # ----------------------------------------------------------------- people
    def person(self, gender: str | None = None) -> Person:
        g = gender or self.rng.choice("mf")
        first = self.rng.choice(self.male_first if g == "m" else self.female_first)
        masc, fem = self.rng.choice(P.PATRONYMICS)
        kind, base, _ = self.rng.choice(self.surnames)
        return Person(g, first, masc if g == "m" else fem, _decline_surname(kind, base, g, "nom"))

    def _surname(self, gender: str, case: str) -> str:
        kind, base, ins = self.cycle(f"surname-{self.part}", self.surnames)
        return _decline_surname(kind, base, gender, case, ins)

    def _patronymic(self, gender: str, case: str) -> str:
        masc, fem = self.cycle("patronymic", P.PATRONYMICS)
        return _decline_patronymic(masc, fem, gender, case)

    def s_name(self, form: str, case: str = "nom", *flags: str) -> Fill:
        gender = next((f for f in flags if f in ("m", "f")), None)
        lower = "lc" in flags
        tags = [f"name:{case}", f"name:{form}"]
        if case != "nom":
            tags.append("name:oblique")
        rng = self.rng
        if form == "dim":
            pool = self.diminutives if gender is None else [d for d in self.diminutives if d[0] == gender]
            text = self.cycle(f"dim-{gender}", pool)[1 + CASE_INDEX[case]]
            tags.append("name:diminutive")
        elif form in ("word", "wordio", "wordfull"):
            g = gender or rng.choice("mf")
            first = self.cycle(f"word-{g}", P.WORD_FEMALE if g == "f" else P.WORD_MALE)[CASE_INDEX[case]]
            text = first
            if form == "wordio":
                text = f"{first} {self._patronymic(g, case)}"
            elif form == "wordfull":
                text = f"{first} {self._surname(g, case)}"
            tags.append("name:word-name")
        elif form in ("lat", "latcaps"):
            g = gender or rng.choice("mf")
            first_nom = self.cycle(f"first-{g}", self.male_first if g == "m" else self.female_first)[0]
            first = P.translit(first_nom)
            last = P.translit(self._surname(g, "nom"))
            text = self.rng.choice([f"{first} {last}", f"{first} {last}", f"{last} {first}", first])
            if form == "latcaps":
                text = f"{first} {last}".upper()
            tags.append("name:latin")
        else:
            g = gender or rng.choice("mf")
            first_forms = self.cycle(f"first-{g}", self.male_first if g == "m" else self.female_first)
            first = first_forms[CASE_INDEX[case]]
            if form == "first":
                text = first
            elif form == "sur":
                text = self._surname(g, case)
            elif form == "io":
                text = f"{first} {self._patronymic(g, case)}"
            elif form == "fio":
                text = f"{self._surname(g, case)} {first} {self._patronymic(g, case)}"
            elif form == "ifo":
                text = f"{first} {self._patronymic(g, case)} {self._surname(g, case)}"
            elif form == "if":
                sur = self._surname(g, case)
                text = f"{first} {sur}" if rng.random() < 0.7 else f"{sur} {first}"
            elif form in ("sur_in", "in_sur"):
                i, o = first_forms[0][0], self._patronymic(g, "nom")[0]
                initials = rng.choice([f"{i}.{o}.", f"{i}. {o}.", f"{i}.", f"{i}.{o}."])
                sur = self._surname(g, case)
                text = f"{sur} {initials}" if form == "sur_in" else f"{initials} {sur}"
                tags.append("name:initials")
            else:
                raise ValueError(f"unknown name form {form!r}")
            if form in ("io", "fio", "ifo"):
                tags.append("name:patronymic")
            if g == "f" and form in ("fio", "ifo", "if", "sur", "sur_in", "in_sur"):
                tags.append("name:female-surname")
        if lower:
            text = text.lower()
        return Fill(text, "name", tuple(tags))

    # ----------------------------------------------------------------- structured PII
    def _phone_parts(self, code: str) -> dict[str, str]:
        a = self.digits(3, "123456789")
        return {"c": code, "a": a, "b": self.digits(2), "d": self.digits(2)}

    def _phone_text(self, layout: str, code: str) -> str:
        while True:
            text = layout.format(**self._phone_parts(code))
            if not valid_as("".join(ch for ch in text if ch.isdigit())):
                return text

    def s_phone(self, kind: str = "any") -> Fill:
        if kind == "any":
            kind = self.cycle("phone-any", [*MOBILE_FORMATS, "city", "city", "800"])
        elif kind == "mobile":
            kind = self.cycle("phone-mobile", list(MOBILE_FORMATS))
        if kind == "city":
            code = self.rng.choice(P.CITY_CODES)
            text = self._phone_text(self.cycle("phone-city", CITY_FORMATS), code)
            return Fill(text, "phone", ("phone:city", f"phone:city-{code}"))
        if kind == "800":
            return Fill(
                self._phone_text(self.cycle("phone-800", FREE_FORMATS), "800"), "phone", ("phone:8800",)
            )
        layout, tags = MOBILE_FORMATS[kind]
        return Fill(
            self._phone_text(layout, self.rng.choice(P.MOBILE_CODES)), "phone", ("phone:mobile", *tags)
        )

    def s_email(self, kind: str = "") -> Fill:
        rng = self.rng
        person = self.person()
        first = P.translit(person.first[0]).lower()
        last = P.translit(person.surname).lower()
        yy, yyyy = f"{rng.randint(70, 99)}", str(rng.randint(1968, 2008))
        nick = rng.choice(P.EMAIL_NICKS)
        local = self.cycle(
            "email-local",
            [
                f"{first}.{last}",
                f"{first}{last}{yy}",
                f"{first[0]}.{last}",
                f"{last}_{first}",
                f"{last}{yyyy}",
                f"{nick}_{yyyy}",
                f"{nick}.{first}",
                f"{first}-{last}",
                f"{first}.{last}{yy}",
                f"{last}.{first[0]}",
                f"{first}{yyyy}",
                f"{first}_{nick}{yy}",
            ],
        )
        tags = ["email"]
        if kind == "work" or rng.random() < 0.08:
            domain = rng.choice(P.COMPANY_DOMAINS)
            tags.append("email:company-domain")
        else:
            domain = rng.choice(P.EMAIL_DOMAINS)
        text = f"{local}@{domain}"
        if rng.random() < 0.1:
            text = ".".join(p[:1].upper() + p[1:] for p in local.split(".")) + "@" + domain.capitalize()
            tags.append("email:mixed-case")
        return Fill(text, "email", tuple(tags))

    def s_card(self, scheme: str = "") -> Fill:
        scheme = scheme or self.cycle("card-scheme", list(CARD_PREFIXES))
        body = CARD_PREFIXES[scheme](self.rng)
        body += self.digits(15 - len(body))
        number = body + luhn_digit(body)
        layout = self.cycle(
            "card-layout", ["grouped", "grouped", "contiguous", "grouped", "contiguous", "dashed"]
        )
        groups = [number[i : i + 4] for i in range(0, 16, 4)]
        text = {"grouped": " ".join(groups), "contiguous": number, "dashed": "-".join(groups)}[layout]
        return Fill(text, "card", (f"card:{scheme}", f"card:{layout}"))

    def s_inn(self, length: str = "") -> Fill:
        length = length or self.cycle("inn-len", ["10", "12"])
        region = self.rng.choice(P.INN_REGIONS)
        if length == "10":
            body = region + self.digits(7)
            number = body + inn10_digit(body)
        else:
            body = region + self.digits(8)
            number = body + inn12_digits(body)
        return Fill(number, "inn", (f"inn:{length}",))

    def s_snils(self) -> Fill:
        while True:
            body = self.digits(9, "0123456")
            if body > "001001998":
                break
        n = body + snils_digits(body)
        layout = self.cycle("snils-layout", ["dashed", "dashed", "dashed-all", "contiguous", "spaced"])
        text = {
            "dashed": f"{n[:3]}-{n[3:6]}-{n[6:9]} {n[9:]}",
            "dashed-all": f"{n[:3]}-{n[3:6]}-{n[6:9]}-{n[9:]}",
            "contiguous": n,
            "spaced": f"{n[:3]} {n[3:6]} {n[6:9]} {n[9:]}",
        }[layout]
        return Fill(text, "snils", (f"snils:{layout}",))

    def s_passport(self, kind: str = "") -> Fill:
        while True:
            series = self.rng.choice(P.PASSPORT_REGIONS) + self.rng.choice(
                [
                    "97",
                    "99",
                    "00",
                    "01",
                    "03",
                    "04",
                    "05",
                    "07",
                    "08",
                    "09",
                    "10",
                    "12",
                    "14",
                    "15",
                    "17",
                    "18",
                    "19",
                    "20",
                    "21",
                    "22",
                    "23",
                ]
            )
            number = self.digits(6, "123456789")
            if not valid_as(series + number):
                break
        s1, s2 = series[:2], series[2:]
        if kind == "words":
            layout = self.cycle(
                "passport-words",
                [
                    f"{series} номер {number}",
                    f"{s1} {s2} номер {number}",
                    f"{series} № {number}",
                    f"{s1} {s2} №{number}",
                    f"{series}, номер {number}",
                ],
            )
            return Fill(layout, "passport", ("passport:series-number-words",))
        key = self.cycle(
            "passport-layout", ["spaced", "grouped", "contiguous", "numbersign", "spaced-numbersign"]
        )
        text = {
            "spaced": f"{s1} {s2} {number}",
            "grouped": f"{series} {number}",
            "contiguous": series + number,
            "numbersign": f"{series} №{number}",
            "spaced-numbersign": f"{s1} {s2} № {number}",
        }[key]
        return Fill(text, "passport", (f"passport:{key}",))

    def s_ogrn(self, length: str = "") -> Fill:
        length = length or self.cycle("ogrn-len", ["13", "13", "15"])
        year = f"{self.rng.randint(2, 24):02d}"
        region = self.rng.choice(P.INN_REGIONS)
        body = (
            self.rng.choice("15") + year + region + self.digits(7)
            if length == "13"
            else "3" + year + region + self.digits(9)
        )
        return Fill(body + ogrn_digit(body), "ogrn", ("ogrn:13" if length == "13" else "ogrn:15-ogrnip",))

    def s_bdate(self, kind: str = "") -> Fill:
        rng = self.rng
        d, m, y = rng.randint(1, 28), rng.randint(1, 12), rng.randint(1948, 2006)
        if kind == "year":
            return Fill(str(y), "birthdate", ("birthdate:year",))
        if not kind:
            kind = self.cycle(
                "bdate-kind",
                ["num", "num", "short", "nozero", "slash", "iso", "dash", "words", "words", "words", "words"],
            )
        elif kind == "num":
            kind = self.cycle("bdate-num", ["num", "num", "short", "nozero", "slash", "dash"])
        text = {
            "num": f"{d:02d}.{m:02d}.{y}",
            "short": f"{d:02d}.{m:02d}.{y % 100:02d}",
            "nozero": f"{d}.{m}.{y}",
            "slash": f"{d:02d}/{m:02d}/{y}",
            "iso": f"{y}-{m:02d}-{d:02d}",
            "dash": f"{d:02d}-{m:02d}-{y}",
            "words": f"{d} {P.MONTHS_GEN[m - 1]} {y}",
        }[kind]
        return Fill(text, "birthdate", ("birthdate:words" if kind == "words" else "birthdate:numeric",))

    def _house(self) -> str:
        rng, n = self.rng, self.rng.randint(1, 140)
        return self.cycle(
            "house",
            [
                f"д. {n}",
                f"д.{n}",
                f"д. {n}к{rng.randint(1, 4)}",
                f"д. {n}, корп. {rng.randint(1, 5)}",
                f"д. {n}, стр. {rng.randint(1, 3)}",
                f"д. {n}{rng.choice('АБВ')}",
                f"д. {n}/{rng.randint(1, 30)}",
                f"дом {n}",
            ],
        )

    def _flat(self) -> str:
        n = self.rng.randint(1, 480)
        return self.cycle("flat", [f"кв. {n}", f"кв.{n}", f"кв. {n}", f"кв {n}", f"оф. {n}", f"офис {n}"])

    def s_addr(self, kind: str = "") -> Fill:
        rng = self.rng
        kind = kind or self.cycle(
            "addr-kind",
            [
                "full",
                "full",
                "city",
                "index",
                "region",
                "nocity",
                "short",
                "slang",
                "village",
                "house",
                "micro",
            ],
        )
        city, slang = rng.choice(P.CITIES)
        street = rng.choice(self.streets)
        n, k = rng.randint(1, 140), rng.randint(1, 300)
        if kind == "full":
            text = f"г. {city}, {street}, {self._house()}, {self._flat()}"
        elif kind == "city":
            text = f"{city}, {street}, {self._house()}, {self._flat()}"
        elif kind == "index":
            text = f"{rng.randint(101000, 692999)}, г. {city}, {street}, {self._house()}, {self._flat()}"
        elif kind == "region":
            region, town = rng.choice(P.REGION_TOWNS)
            text = f"{region}, г. {town}, {street}, {self._house()}, {self._flat()}"
        elif kind == "nocity":
            text = f"{street}, {self._house()}, {self._flat()}"
        elif kind == "short":
            text = f"{city} {street.replace('ул. ', '')} {n}-{k}"
        elif kind == "slang":
            bare = street.replace(".", "").lower()
            text = rng.choice(
                [
                    f"{slang} {bare} {n} кв {k}",
                    f"{slang}, {bare} {n}к{rng.randint(1, 3)} кв{k}",
                    f"{slang} {bare} д{n} кв{k}",
                ]
            )
        elif kind == "village":
            region, district = rng.choice(P.REGION_DISTRICTS)
            text = (
                f"{region}, {district} р-н, д. {rng.choice(P.VILLAGES)}, "
                f"ул. {rng.choice(['Садовая', 'Лесная', 'Полевая', 'Центральная'])}, д. {n}"
            )
        elif kind == "house":
            text = f"{city}, {street}, {self._house()}"
        elif kind == "micro":
            text = f"г. {city}, мкр. {rng.choice(P.MICRODISTRICTS)}, д. {n}, кв. {k}"
        else:
            raise ValueError(kind)
        return Fill(text, "address", (f"address:{kind}",))
