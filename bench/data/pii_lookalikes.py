"""Look-alike slot fillers: numbers, dates, places and names that are NOT personal data.

Every number that has a PII-like length is re-drawn until it passes no checksum of that length
(``safe_digits``), so a detector that checks digits is never wrong to leave it alone.
"""

from __future__ import annotations

from bench.data import pii_pools as P
from bench.data.pii_checksums import ean13_digit, luhn_digit, luhn_ok, valid_as
from bench.data.pii_fill import Fill, Filler


class LookalikeFills(Filler):
    def _look(self, text: str, tag: str) -> Fill:
        return Fill(text, None, (f"lookalike:{tag}",))

    def s_order(self) -> Fill:
        return self._look(self.safe_digits(self.rng.choice([6, 7, 8, 9, 10, 10, 10, 12])), "order")

    def s_order11(self) -> Fill:  # an order number that looks like a phone
        return self._look(self.safe_digits(11, "78"), "order-phone-like")

    def s_price(self) -> Fill:
        rng = self.rng
        n = rng.choice(
            [
                rng.randint(1, 99) * 100,
                rng.randint(100, 9999),
                rng.randint(10, 250) * 500,
                2200,
                2202,
                4100,
                7990,
                12500,
            ]
        )
        grouped = f"{n:,}".replace(",", " ")
        text = self.cycle(
            "price",
            [
                f"{grouped} руб",
                f"{n} р",
                f"{grouped} ₽",
                f"{n}₽",
                f"{grouped} рублей",
                f"{grouped},00 руб.",
                f"{n} р.",
                f"{grouped} р",
            ],
        )
        return self._look(text, "price")

    def s_article(self) -> Fill:
        d = self.safe_digits(12, "2")
        text = self.cycle(
            "article",
            [
                f"{d[:4]}-{d[4:8]}-{d[8:]}",
                self.safe_digits(9),
                f"{d[:4]}-{d[4:7]}",
                f"AB-{d[:6]}",
                f"{d[:3]}.{d[3:6]}.{d[6:9]}",
                self.safe_digits(8),
            ],
        )
        return self._look(text, "article")

    def s_track_rp(self) -> Fill:
        return self._look(self.safe_digits(14, "1234"), "tracking")

    def s_track_intl(self) -> Fill:
        rng = self.rng
        text = f"{rng.choice(['RA', 'RB', 'RR', 'LY', 'EE', 'CP', 'LP'])}{self.digits(9)}{rng.choice(['RU', 'CN'])}"
        return self._look(text, "tracking")

    def s_track_cdek(self) -> Fill:
        return self._look(self.safe_digits(10, "1"), "tracking")

    def s_track(self) -> Fill:
        return self.slot(self.cycle("track", ["track_rp", "track_intl", "track_cdek"]))

    def _future_date(self) -> tuple[int, int, int]:
        return self.rng.randint(1, 28), self.rng.randint(1, 12), self.rng.choice([2025, 2026, 2026])

    def s_date(self) -> Fill:  # a past order / payment date
        d, m, _ = self._future_date()
        y = self.rng.choice([2024, 2025])
        text = self.cycle(
            "date",
            [
                f"{d:02d}.{m:02d}.{y}",
                f"{d:02d}.{m:02d}",
                f"{d} {P.MONTHS_GEN[m - 1]}",
                f"{d:02d}.{m:02d}.{y % 100}",
            ],
        )
        return self._look(text, "date")

    def s_ddate(self) -> Fill:  # a delivery date
        d, m, y = self._future_date()
        text = self.cycle(
            "ddate",
            [
                f"{d:02d}.{m:02d}.{y}",
                f"{d:02d}.{m:02d}",
                f"{d} {P.MONTHS_GEN[m - 1]}",
                f"{d}.{m:02d}",
                f"{d} {P.MONTHS_GEN[m - 1]} {y}",
            ],
        )
        return self._look(text, "delivery-date")

    def s_time(self, kind: str = "") -> Fill:
        h = self.rng.randint(8, 19)
        at = [f"{h}:00", f"{h}:30", f"{h}.00"]
        window = [f"с {h} до {h + 4}", f"с {h}:00 до {h + 3}:00"]
        options = {"at": at, "range": window}.get(kind, at + window)
        return self._look(self.cycle(f"time-{kind}", options), "time")

    def s_qty(self) -> Fill:
        n, few = self.rng.randint(2, 12), self.rng.randint(2, 4)
        return self._look(
            self.cycle(
                "qty",
                [
                    f"{n} шт",
                    f"{few} упаковки",
                    f"{n} кг",
                    f"{n}шт.",
                    f"{n * 5} штук",
                    f"{few} коробки",
                    "1,5 л",
                    f"{n * 100} г",
                ],
            ),
            "quantity",
        )

    def s_badcard(self) -> Fill:
        while True:
            d = self.rng.choice(["4276", "5536", "2202", "2200", "4377", "5469"]) + self.digits(12)
            if not luhn_ok(d):
                break
        text = " ".join(d[i : i + 4] for i in range(0, 16, 4)) if self.rng.random() < 0.6 else d
        return self._look(text, "bad-luhn")

    def s_fn(self) -> Fill:  # a fiscal drive number from a receipt: 16 digits, not a card
        while True:
            d = self.rng.choice(["9999078900", "7380440700", "9960440300"]) + self.digits(6)
            if not luhn_ok(d):
                return self._look(d, "receipt-fiscal")

    def s_badinn(self) -> Fill:
        return self._look(self.safe_digits(self.rng.choice([10, 12]), "1234567"), "bad-inn")

    def s_badsnils(self) -> Fill:
        d = self.safe_digits(11, "0123")
        return self._look(f"{d[:3]}-{d[3:6]}-{d[6:9]} {d[9:]}", "bad-snils")

    def s_ean(self) -> Fill:
        while True:
            body = "46" + self.digits(10)
            d = body + ean13_digit(body)
            if not valid_as(d):
                return self._look(d, "barcode")

    def s_imei(self) -> Fill:
        while True:
            body = "35" + self.digits(12)
            d = body + luhn_digit(body)
            if not valid_as(d):
                return self._look(d, "imei")

    def s_contract(self) -> Fill:  # a contract number written like a passport
        d = self.safe_digits(10, "1234")
        return self._look(
            self.rng.choice([f"{d[:4]} {d[4:]}", f"{d[:2]}-{d[2:4]}/{d[4:]}", d]), "contract-number"
        )

    def s_kpp(self) -> Fill:
        return self._look(
            self.rng.choice(P.INN_REGIONS) + self.rng.choice(["01", "02", "05", "10"]) + "01001",
            "bank-details",
        )

    def s_bik(self) -> Fill:
        return self._look("04" + self.digits(7), "bank-details")

    def s_account(self) -> Fill:
        return self._look(
            self.rng.choice(["40702", "40802", "40817"]) + "810" + self.digits(12), "bank-details"
        )

    def s_code(self) -> Fill:
        return self._look(self.digits(self.rng.choice([4, 4, 5, 6]), "123456789"), "code")

    def s_promo(self) -> Fill:
        return self._look(
            self.rng.choice(["LETO", "SALE", "VESNA", "NEW", "SKIDKA", "BONUS"])
            + str(self.rng.choice([10, 15, 20, 500, 2025, 2026])),
            "code",
        )

    def s_ticket(self) -> Fill:
        d = self.safe_digits(9)
        return self._look(
            self.cycle("ticket", [f"{d[:3]}-{d[3:6]}-{d[6:]}", d, f"#{d[:7]}", f"INC{d[:7]}"]),
            "ticket-number",
        )

    def s_dept(self) -> Fill:
        return self._look(f"{self.rng.choice(P.PASSPORT_REGIONS)}0-{self.digits(3)}", "passport-dept-code")

    def s_issued(self) -> Fill:
        d, m, y = self.rng.randint(1, 28), self.rng.randint(1, 12), self.rng.randint(2005, 2024)
        return self._look(f"{d:02d}.{m:02d}.{y}", "issue-date")

    def s_expiry(self) -> Fill:
        return self._look(f"{self.rng.randint(1, 12):02d}/{self.rng.randint(25, 31)}", "card-expiry")

    def s_year(self) -> Fill:
        return self._look(str(self.rng.randint(2015, 2026)), "year")

    def s_ip(self) -> Fill:
        return self._look(
            self.rng.choice(["192.168.", "10.0.", "95.31.", "178.66."])
            + f"{self.rng.randint(0, 255)}.{self.rng.randint(1, 254)}",
            "ip",
        )

    def s_product(self) -> Fill:
        return self._look(self.cycle("product", P.PRODUCTS), "product")

    def s_company(self) -> Fill:
        name = self.cycle("company", P.COMPANY_NAMES)
        form = self.rng.choice(P.LEGAL_FORMS)
        return self._look(
            self.rng.choice([f"{form} «{name}»", f"{form} {name}", f'{form} "{name}"']), "company"
        )

    def s_company_name(self) -> Fill:
        return self._look(self.cycle("company", P.COMPANY_NAMES), "company")

    def s_city_acc(self) -> Fill:
        return self._look(self.cycle("city-acc", P.CITY_ACC), "city")

    def s_city_gen(self) -> Fill:
        return self._look(self.cycle("city-gen", P.CITY_GEN), "city")

    def s_city_loc(self) -> Fill:
        return self._look(self.cycle("city-loc", P.CITY_LOC), "city")

    def s_city_nom(self) -> Fill:
        return self._look(self.cycle("city-nom", P.CITY_NOM), "city")
