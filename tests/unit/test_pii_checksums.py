"""Check digits: generated valid numbers pass, corrupted ones fail, and the validators agree with
reference implementations written straight from the specifications."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from b24claude.privacy import checksums as cs

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


def bodies(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


def corrupt(number: str, position: int, replacement: str) -> str:
    return number[:position] + replacement + number[position + 1 :]


# --- reference implementations (deliberately written differently from the module) --------------------


def ref_luhn(number: str) -> bool:
    total = 0
    for i, ch in enumerate(number[::-1]):
        d = int(ch) * (2 if i % 2 else 1)
        total += d // 10 + d % 10
    return total % 10 == 0


def ref_inn(number: str) -> bool:
    def control(ds: str, weights: list[int]) -> int:
        return sum(int(a) * b for a, b in zip(ds, weights, strict=False)) % 11 % 10

    if len(number) == 10:
        return control(number, [2, 4, 10, 3, 5, 9, 4, 6, 8]) == int(number[9])
    if len(number) == 12:
        n11 = control(number, [7, 2, 4, 10, 3, 5, 9, 4, 6, 8])
        n12 = control(number, [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8])
        return n11 == int(number[10]) and n12 == int(number[11])
    return False


def ref_snils(number: str) -> bool:
    body, control = number[:9], int(number[9:])
    if int(body) <= 1001998:
        return False
    s = sum(int(d) * w for d, w in zip(body, range(9, 0, -1), strict=True))
    while s > 101:
        s -= 101
    expected = 0 if s in (100, 101) else s
    return expected == control


def ref_ogrn(number: str) -> bool:
    modulus = {13: 11, 15: 13}.get(len(number))
    return modulus is not None and int(number[:-1]) % modulus % 10 == int(number[-1])


# --- valid numbers pass ----------------------------------------------------------------------------


@given(bodies(15))
def test_luhn_appended_digit_passes(body: str) -> None:
    assert cs.luhn_valid(body + cs.luhn_check(body))


@given(bodies(9))
def test_inn10_with_its_check_digit_passes(body: str) -> None:
    assert cs.inn_valid(body + cs.inn_check(body))


@given(bodies(10))
def test_inn12_with_its_check_digits_passes(body: str) -> None:
    assert cs.inn_valid(body + cs.inn_check(body))


@given(st.integers(min_value=1_001_999, max_value=999_999_999))
def test_snils_with_its_control_number_passes(n: int) -> None:
    body = f"{n:09d}"
    assert cs.snils_valid(body + cs.snils_check(body))


@given(bodies(12))
def test_ogrn_with_its_check_digit_passes(body: str) -> None:
    assert cs.ogrn_valid(body + cs.ogrn_check(body))


@given(bodies(14))
def test_ogrnip_with_its_check_digit_passes(body: str) -> None:
    assert cs.ogrn_valid(body + cs.ogrn_check(body))


# --- single-digit corruptions fail -----------------------------------------------------------------


@given(bodies(15), st.integers(min_value=0, max_value=15), st.integers(min_value=1, max_value=9))
def test_luhn_catches_every_single_digit_change(body: str, position: int, shift: int) -> None:
    number = body + cs.luhn_check(body)
    changed = corrupt(number, position, str((int(number[position]) + shift) % 10))
    assert not cs.luhn_valid(changed)


@given(
    st.sampled_from([(9, "inn"), (10, "inn"), (12, "ogrn"), (14, "ogrn")]),
    st.data(),
    st.integers(min_value=1, max_value=9),
)
def test_a_changed_check_digit_fails(kind: tuple[int, str], data: st.DataObject, shift: int) -> None:
    size, name = kind
    body = data.draw(bodies(size))
    check = cs.inn_check(body) if name == "inn" else cs.ogrn_check(body)
    number = body + check
    last = len(number) - 1
    changed = corrupt(number, last, str((int(number[last]) + shift) % 10))
    valid = cs.inn_valid if name == "inn" else cs.ogrn_valid
    assert not valid(changed)


@given(st.integers(min_value=1_001_999, max_value=999_999_999), st.integers(min_value=1, max_value=99))
def test_a_changed_snils_control_number_fails(n: int, shift: int) -> None:
    body = f"{n:09d}"
    control = int(cs.snils_check(body))
    assert not cs.snils_valid(body + f"{(control + shift) % 100:02d}")


@given(
    st.sampled_from([10, 12]),
    st.data(),
    st.integers(min_value=1, max_value=9),
)
def test_inn_with_a_changed_digit_agrees_with_the_reference(
    size: int, data: st.DataObject, shift: int
) -> None:
    body = data.draw(bodies(size - (1 if size == 10 else 2)))
    number = body + cs.inn_check(body)
    position = data.draw(st.integers(min_value=0, max_value=size - 1))
    changed = corrupt(number, position, str((int(number[position]) + shift) % 10))
    assert cs.inn_valid(changed) == ref_inn(changed)


@given(bodies(11), st.integers(min_value=0, max_value=10), st.integers(min_value=1, max_value=9))
def test_snils_with_a_changed_digit_agrees_with_the_reference(number: str, position: int, shift: int) -> None:
    if int(number[:9]) > 1_001_998:
        number = number[:9] + cs.snils_check(number[:9])
    changed = corrupt(number, position, str((int(number[position]) + shift) % 10))
    assert cs.snils_valid(changed) == ref_snils(changed)


@given(st.sampled_from([13, 15]), st.data(), st.integers(min_value=1, max_value=9))
def test_ogrn_with_a_changed_digit_agrees_with_the_reference(
    size: int, data: st.DataObject, shift: int
) -> None:
    body = data.draw(bodies(size - 1))
    number = body + cs.ogrn_check(body)
    position = data.draw(st.integers(min_value=0, max_value=size - 1))
    changed = corrupt(number, position, str((int(number[position]) + shift) % 10))
    assert cs.ogrn_valid(changed) == ref_ogrn(changed)


@given(st.text(alphabet="0123456789", min_size=2, max_size=20))
def test_luhn_agrees_with_the_reference(number: str) -> None:
    assert cs.luhn_valid(number) == ref_luhn(number)


# --- known numbers and edge cases ------------------------------------------------------------------


def test_published_numbers() -> None:
    assert cs.inn_valid("7707083893")  # Sberbank
    assert cs.inn_valid("500100732259")
    assert cs.ogrn_valid("1027700132195")  # Sberbank
    assert cs.ogrn_valid("304500116000157")
    assert cs.snils_valid("11223344595")
    assert cs.card_valid("4111111111111111")
    assert cs.card_valid("5555555555554444")


def test_wrong_lengths_and_non_digits_fail() -> None:
    assert not cs.inn_valid("77070838930")
    assert not cs.inn_valid("770708389a")
    assert not cs.snils_valid("1122334459")
    assert not cs.ogrn_valid("10277001321950")
    assert not cs.luhn_valid("4")
    assert not cs.luhn_valid("٤١١١١١١١١١١١١١١١")  # Arabic-Indic digits are digits to str.isdigit


def test_old_snils_numbers_are_not_verifiable() -> None:
    assert not cs.snils_valid("00100199800")


def test_card_schemes() -> None:
    def card(prefix: str, size: int) -> str:
        body = prefix + "0" * (size - 1 - len(prefix))
        return body + cs.luhn_check(body)

    assert cs.card_valid(card("2200", 16))  # Mir
    assert cs.card_valid(card("2204", 19))
    assert cs.card_valid(card("2221", 16))  # Mastercard 2-series
    assert cs.card_valid(card("2720", 16))
    assert cs.card_valid(card("51", 16))
    assert cs.card_valid(card("6762", 19))  # Maestro
    assert cs.card_valid(card("62", 17))  # UnionPay
    assert cs.card_valid(card("4", 16))
    assert not cs.card_valid(card("2205", 16))  # between Mir and the Mastercard 2-series
    assert not cs.card_valid(card("2721", 16))
    assert not cs.card_valid(card("8", 16))  # no scheme
    assert not cs.card_valid(card("51", 19))  # Mastercard is 16 digits
