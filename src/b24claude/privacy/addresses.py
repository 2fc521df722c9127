"""Postal addresses: "г. Москва, ул. Тверская, д. 7, кв. 15", "ул ленина д 5 кв 3", "Москва, Тверская 7-15",
"123456, г. Москва …", "адрес: Ленина 5".

Address *components* (postcode, region, city, settlement, street, house, building, flat, entrance)
are found by their markers; components separated only by commas and spaces form a chain, and a chain
is an address when it weighs enough (a street with a house, a house with a flat, a city with a
street…). A bare street ("Тверская 7") or a bare city ("Москва,") counts only inside a chain or
after an address word ("адрес", "живу", "доставьте"). A chain after pickup-point or shop words
("пункт выдачи на ул. Ленина 5") is the shop's address, not the customer's — unless it has a flat.
Cities and regions may be lower case ("иркутск ул …", "московская обл."), a city may stand before its
street without a comma ("Омск Строителей 11-218"); "д." before a name is a village, before a number a
house. The span ends at the flat: an entrance or floor after it is left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from b24claude.privacy.candidates import WORDS, Candidate
from b24claude.privacy.morph import Morph

_CAPW = r"[А-ЯЁ][а-яё]+"
# A house number: "5", "5А", "5 а", "40/16", "59-171" (house-flat), "89к2", "12 стр 3" (with its building).
_HOUSE = (
    r"\d{1,4}(?:\s?[а-яА-Я](?![а-яё\d]))?(?:\s?[/\-]\s?\d{1,4}(?:[а-яА-Я](?![а-яё]))?)?"
    r"(?:(?:\s?(?i:корп\.?|стр\.?)\s?|(?i:к|с))\d{1,3}(?:[а-яА-Я](?![а-яё]))?(?!\d))?(?!\s?-\s?[а-яё])"
)
_NB = r"(?<![\w.\-])"  # a marker starts a word
# A lower-case place name of one or two words, hyphens allowed ("улан-удэ", "набережные челны"); which
# words are the place is the dictionary's to say (AddressFinder._place_end).
_LOWER_PLACE = r"[а-яё]{3,}(?:-[а-яё]+){0,2}(?:\s[а-яё]{3,}(?:-[а-яё]+){0,2})?"

_STREET_MARK = (
    r"(?i:ул(?:ица|ице|ицу|ицы)?\.?|пр-к?т\.?|просп\.?|пр\.(?=\s*[А-ЯЁ])|проспект[аеу]?|пер\.?|переул(?:ок|ке|ка)|ш\.|шоссе|"
    r"наб\.?|набережн(?:ая|ой|ую)|б-р\.?|бул\.|бульвар[аеу]?|пл\.|площад[ьи]|проезд[аеу]?|пр-д\.?|туп\.|"
    r"тупик[аеу]?|аллея|аллее|мкр-?н?\.?|микрорайон[аеу]?|тракт[аеу]?)"
)
_STREET_SUFFIX_MARK = (
    r"(?i:улица|ул\.|проспект|пр-к?т\.?|просп\.|пр\.|переулок|пер\.|шоссе|ш\.|бульвар|б-р|набережная|наб\.|проезд|площадь|пл\.|"
    r"тупик|аллея)"
)
_COMPONENTS: tuple[tuple[str, float, re.Pattern[str]], ...] = (
    (
        "street_marker",
        1.5,
        re.compile(
            rf"{_NB}{_STREET_MARK}(?![а-яё])\s*(?=[\w«\"])"
        ),  # the name is read word by word (see _street_end)
    ),
    (
        "street",
        1.5,
        re.compile(
            rf"(?<![\w\-])(?:\d{{1,2}}-?[а-я]{{1,2}}\s+)?[А-ЯЁа-яё][а-яё\-]+(?:ая|ий|ый|ой|ое|ского|ская|ский|кая|кий)"
            rf"\s+{_STREET_SUFFIX_MARK}(?![а-яё])"
        ),
    ),
    (
        "city",
        1.0,
        re.compile(
            rf"{_NB}(?i:г\.|гор\.|город[ае]?|г(?=\s+[А-ЯЁ]))\s*{_CAPW}(?:[\s\-](?:на-)?{_CAPW}){{0,2}}"
        ),
    ),
    (
        "city",
        1.0,
        re.compile(
            r"(?<![\w\-])(?:СПб|Спб|СПБ|спб|Мск|МСК|мск|Екб|ЕКБ|екб|Нск|НСК|нск|Питер|питер)(?![\w\-])"
        ),
    ),
    ("city_lower", 1.0, re.compile(rf"{_NB}(?:г\.?|город[ае]?)\s*{_LOWER_PLACE}")),
    (
        "region",
        1.0,
        re.compile(
            rf"{_NB}{_CAPW}(?:ая|ий|ой|ое)\s+(?i:области|область|обл\.?|края|краю|край|р-н\.?|района|район|округ)(?![а-яё])"
            rf"|{_NB}(?i:респ\.|республика|обл\.|область)\s*{_CAPW}|(?<![\w])(?:МО|ЛО)(?=\s*,)"
            # lower case: "московская обл.", "богородский р-н"
            rf"|{_NB}[а-яё]{{3,}}(?:ая|ий|ой|ое)\s+(?:области|область|обл\.?|края|край|р-н\.?|района|район)(?![а-яё])"
        ),
    ),
    (
        "settlement",
        1.0,
        re.compile(
            rf"{_NB}(?i:пос\.|п\.|посёлок|поселок|пгт\.?|с\.|село|дер\.|деревня|д\.|снт|днт|ст-ца|станица|х\.|"
            rf"хутор|рп|кп)\s*(?:{_CAPW}(?:[\s\-]{_CAPW})?|[а-яё]{{3,}}(?:-[а-яё]{{3,}})?|«[^»\n]{{1,40}}»|\"[^\"\n]{{1,40}}\")"
        ),
    ),
    (
        "house",
        1.0,
        re.compile(
            rf"{_NB}(?i:д\.|д(?=\s?\d)|дом(?:а|е)?|вл\.|влад\.|владение|уч\.|участок)\s*(?:№\s*)?{_HOUSE}(?!\d)"
        ),
    ),
    (
        "building",
        0.5,
        re.compile(
            rf"{_NB}(?i:к\.|к(?=\d)|корп\.?|корпус|стр\.|строение|лит\.?|литер[аы]?)\s*\d{{1,3}}[а-яА-Я]?(?!\d)"
        ),
    ),
    (
        "flat",
        1.0,
        re.compile(
            rf"{_NB}(?i:кв\.?|квартира|квартиру|квартире|оф\.?|офис|пом\.?|помещение|комн\.?|комната)\s*(?:№\s*)?"
            r"\d{1,4}[а-яА-Я]?(?!\d)"
        ),
    ),
    ("entrance", 0.5, re.compile(rf"{_NB}(?i:под\.|подъезд|эт\.|этаж)\s*\d{{1,2}}(?!\d)")),
    ("entrance", 0.5, re.compile(r"(?<![\d\w])\d{1,2}\s*(?:-?й\s+)?(?i:подъезд|этаж)")),
    # Lower-case chat ("москва ленина 5 кв 3"): a known city, a street word with a number — in a chain only.
    (
        "bare_city_lower",
        1.0,
        re.compile(
            rf"(?<![\w\-.]){_LOWER_PLACE}"
            rf"(?=,?\s+(?:[а-яё]+\s*,?\s*\d|{_STREET_MARK}(?![а-яё])|[а-яё]+\s+{_STREET_SUFFIX_MARK}(?![а-яё])))"
        ),
    ),
    ("bare_street_lower", 0.5, re.compile(rf"(?<![\w\-])[а-яё]{{3,}}\s*,?\s*{_HOUSE}(?![\d\w])(?![.,:]\d)")),
    ("postcode", 1.0, re.compile(r"(?<![\d\w])[1-6]\d{5}(?![\d\w])")),
    (
        "bare_street",
        1.0,
        re.compile(rf"(?<![\w\-]){_CAPW}(?:[\s\-]{_CAPW})?\s*,?\s*{_HOUSE}(?![\d\w])(?![.,:]\d)"),
    ),
    (
        "bare_city",
        1.0,
        # "Москва, …", "Омск ул. …", "Нижний Новгород Кутузовский проспект 5", "Омск Строителей 11-218"
        re.compile(
            rf"(?<![\w\-.]){_CAPW}(?:-на-{_CAPW}|-{_CAPW}|\s{_CAPW})?"
            rf"(?=\s*,|\s+{_STREET_MARK}(?![а-яё])|\s+{_CAPW}\s+{_STREET_SUFFIX_MARK}(?![а-яё])"
            rf"|\s+{_CAPW}\s*,?\s*\d{{1,4}}(?:\s?[/\-]\s?\d{{1,4}})?(?![\d.,:]))"
        ),
    ),
)
_ANCHORS = frozenset({"street", "house", "flat", "city", "city_lower", "region", "settlement", "bare_city"})
_HOUSE_AFTER_STREET = re.compile(rf"\s*,?\s*(?:(?i:д\.|д|дом)\s*)?(?:№\s*)?{_HOUSE}(?![\d\w])(?![.,:]\d)")
_STREET_STOP = re.compile(
    r"(?i:д|дом|кв|корп|к|стр|под|эт|офис|оф|вл|уч|и|в|на|с|у|до|по|от|за|из|к|не|но|а|или|это|что|где|когда|мы|"
    r"я|он|она|они|вы|тел|телефон)$"
)
_STREET_WORD = re.compile(r"\s*(\d{1,2}-?[а-я]{0,2}\s+)?([«\"]?[А-Яа-яЁёA-Za-z][А-Яа-яЁёA-Za-z\-]*[»\"]?)\.?")
_GAP = re.compile(r"[\s,;]*")
_WORDS = re.compile(r"[А-Яа-яЁё]+(?:-[А-Яа-яЁё]+)*")
_WORD_BEFORE = re.compile(r"([А-Яа-яЁё]+)[ \t]+$")
# After a number that is then a date, a duration, a count or money, not a house.
_NOT_A_HOUSE = re.compile(
    r"\s*(?i:янв|фев|мар|апр|ма[яй]|июн|июл|авг|сен|окт|ноя|дек|числ|дн|день|дня|недел|час|мин|сек|лет|год|"
    r"раз|шт|штук|кг|руб|р\b|₽|тыс|%|ч\b|мес)"
)
_CITY = 0.9  # a word the dictionary reads as a place with this share is a city, not a street
_CUE = re.compile(
    r"(?i:адрес\w*|прожива\w*|живу|живём|живем|прописк\w*|прописан\w*|зарегистрирован\w*|регистрац\w*|"
    r"доставьте|доставить|доставку|доставка|привезите|привезти|отправьте|приезжайте|подъехать|заберите|"
    r"адресу)\s*[:\-—]?\s*(?:(?i:на|по|в|во)\s+)?$"
)
_SHOP = re.compile(
    r"(?i:пункт\w*\s+выдач|пвз|постамат|магазин|салон|шоурум|склад|офис\w*\s+продаж|наш\w*\s+офис|точк\w+\s+продаж|"
    r"самовывоз|филиал|сервисн\w+\s+центр|находимся|работаем|наш\w*\s+адрес|\bофис\w*\s*:)"
)
_MIN_WEIGHT = 2.0
_CITY_LIKE = frozenset({"city", "bare_city", "region", "settlement"})
_FLAT_LIKE = frozenset({"flat", "building", "entrance", "house"})


@dataclass(frozen=True, slots=True)
class _Part:
    kind: str
    weight: float
    start: int
    end: int


def _street_after_city_only(text: str, parts: list[_Part]) -> list[_Part]:
    """A lower-case "word number" is a street only between a city and a flat ("москва ленина 5 кв 3")."""
    kept: list[_Part] = []
    for k, p in enumerate(parts):
        if p.kind == "bare_street_lower":
            prev = parts[k - 1] if k else None
            nxt = parts[k + 1] if k + 1 < len(parts) else None
            after_city = prev is not None and prev.kind in _CITY_LIKE and _joined(text, prev, p)
            before_flat = nxt is not None and nxt.kind in _FLAT_LIKE and _joined(text, p, nxt)
            if not (after_city or before_flat):
                continue
        kept.append(p)
    return kept


def _joined(text: str, a: _Part, b: _Part) -> bool:
    return _GAP.fullmatch(text, a.end, b.start) is not None


class AddressFinder:
    def __init__(self, morph: Morph) -> None:
        self._morph = morph

    def find(self, text: str) -> list[Candidate]:
        parts = _street_after_city_only(text, self._parts(text))
        out: list[Candidate] = []
        chain: list[_Part] = []
        for part in parts:
            if chain and not _joined(text, chain[-1], part):
                out.extend(self._accept(text, chain))
                chain = []
            chain.append(part)
        if chain:
            out.extend(self._accept(text, chain))
        return out

    def _parts(self, text: str) -> list[_Part]:
        found: list[_Part] = []
        for kind, weight, pattern in _COMPONENTS:
            for m in pattern.finditer(text):
                part = self._component(text, kind, weight, m)
                if part is not None:
                    found.append(part)
        found.sort(key=lambda p: (p.start, -(p.end - p.start)))
        kept: list[_Part] = []
        for p in found:
            if not kept or p.start >= kept[-1].end:
                kept.append(p)
        return kept

    def _component(self, text: str, kind: str, weight: float, m: re.Match[str]) -> _Part | None:
        start, end = m.start(), m.end()
        if kind in ("street", "street_marker"):
            if kind == "street_marker":
                end = self._street_end(text, end)
                if end <= m.end():
                    return None
            house = _HOUSE_AFTER_STREET.match(text, end)
            if house is not None:
                return _Part("street", weight + 1.0, start, house.end())
            return _Part("street", weight, start, end)
        if kind == "city_lower":
            place = self._place(text, m, 0.3, skip=1)
            return None if place is None else _Part("city", weight, start, place[1])
        if kind in ("bare_city", "bare_city_lower"):
            place = self._place(text, m, 0.5, skip=0)
            if place is None or self._after_first_name(text, place[0]):
                return None  # "Андрей Калинин, ул. …": a surname that is also a town
            return _Part("bare_city", weight, *place)
        if kind in ("bare_street", "bare_street_lower") and _NOT_A_HOUSE.match(text, end):
            return None  # "в Москву 5 мая", "в Омск 3 дня"
        if kind == "bare_street":
            words = _WORDS.findall(text, start, end)
            if len(words) == 2 and self._morph.info(words[0].lower()).geox >= 0.5:
                # "Омск Строителей 11-218": the city is a component of its own.
                start = text.index(words[1], start + len(words[0]))
            elif len(words) == 1 and self._morph.info(words[0].lower()).geox >= _CITY:
                return None  # "Москву 5": a city and a number
        if kind == "bare_street_lower":
            info = self._morph.info(m.group().split()[0].rstrip(",").lower())
            if info.function >= 0.5 or info.geox >= _CITY:
                return None
        if kind == "settlement":
            name = _WORDS.findall(text, start, end)[-1]
            if name.islower() and self._morph.info(name).function >= 0.5:
                return None
        return _Part(kind, weight, start, end)

    def _place(self, text: str, m: re.Match[str], min_geox: float, *, skip: int) -> tuple[int, int] | None:
        """Where the place name is among the matched words after ``skip`` marker words: both words when
        the second is the place and the first its adjective ("нижний новгород"), the second alone when
        the first is some other word ("адрес москва"), the first alone when it is the place ("мытищи ул")."""
        words = list(_WORDS.finditer(text, m.start(), m.end()))[skip:]
        if not words:
            return None
        if len(words) == 2 and self._morph.info(words[1].group().lower()).geox >= min_geox:
            first = self._morph.info(words[0].group().lower())
            capitalised = words[0].group()[0].isupper()
            if first.adjective >= 0.5 or first.geox >= min_geox or (capitalised and first.first < 0.5):
                return words[0].start(), words[1].end()
            return words[1].start(), words[1].end()
        if self._morph.info(words[0].group().lower()).geox >= min_geox:
            return words[0].start(), words[0].end()
        return None

    def _after_first_name(self, text: str, pos: int) -> bool:
        """Whether a capitalised first name stands right before ``pos`` ("Андрей |Калинин")."""
        m = _WORD_BEFORE.search(text, 0, pos)
        if m is None or not m.group(1)[0].isupper():
            return False
        return self._morph.info(m.group(1).lower()).first >= 0.5

    def _street_end(self, text: str, pos: int) -> int:
        """The end of a street name starting at ``pos``: up to three words, stopping at markers."""
        end = pos
        for _ in range(3):
            m = _STREET_WORD.match(text, end)
            if m is None:
                break
            word = m.group(2).strip('«»"')
            if not word or _STREET_STOP.match(word):
                break
            if not word[0].isupper() and m.group(1) is None:
                info = self._morph.info(word.lower())
                if info.function >= 0.5 or (not info.known and end > pos):
                    break
            end = m.end()
            if text[end : end + 1] == "," or not text[end : end + 1].isspace():
                break
        # Keep the closing dot of an abbreviation out of the name; "ул. Ленина." ends the sentence.
        while end > pos and text[end - 1] in ". ":
            end -= 1
        return end

    def _accept(self, text: str, chain: list[_Part]) -> list[Candidate]:
        while chain and chain[-1].kind in ("postcode",):
            chain = chain[:-1]
        if not chain:
            return []
        start = chain[0].start
        weight = sum(p.weight for p in chain)
        before = text[max(0, start - 30) : start]
        cue = _CUE.search(before) is not None
        if cue:
            weight += 1.0
        kinds = {p.kind for p in chain}
        if weight < _MIN_WEIGHT or not (kinds & _ANCHORS or cue):
            return []
        if kinds <= {"postcode", "bare_city", "city", "region"} and "postcode" not in kinds:
            return []  # places only ("Москва, Московская обл."): nobody's address yet
        if "flat" not in kinds and _SHOP.search(text[max(0, start - 60) : start]):
            return []
        while len(chain) > 1 and chain[-1].kind == "entrance":
            chain = chain[:-1]  # "…, кв. 12, подъезд 3, этаж 4": the address ends at the flat
        return [Candidate("address", start, chain[-1].end, WORDS)]
