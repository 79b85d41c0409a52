"""NHS number, UPN and postcode rules, checked against the rules in the domain primer."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from gateway.identifiers import (
    is_valid_nhs_number,
    is_valid_upn,
    nhs_check_digit,
    normalise_postcode,
    upn_check_letter,
)

nine_digits = st.text(alphabet=string.digits, min_size=9, max_size=9)


def primer_nhs_valid(number: str) -> bool:
    """The primer's rule, written out independently of python-stdnum."""
    if len(number) != 10 or not number.isdigit() or len(set(number)) == 1:
        return False
    total = sum(int(d) * w for d, w in zip(number[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(number[9])


def test_published_example_passes_and_known_defects_fail() -> None:
    assert is_valid_nhs_number("9434765919")
    assert is_valid_nhs_number("943 476 5919")
    assert not is_valid_nhs_number("9912003890")  # UK Core baby example: fails Modulus 11
    assert not is_valid_nhs_number("9000000015")  # PDS sandbox number: fails Modulus 11


@given(st.integers(min_value=0, max_value=9))
def test_all_same_digit_numbers_are_rejected(digit: int) -> None:
    assert not is_valid_nhs_number(str(digit) * 10)


@given(st.text(alphabet=string.digits, min_size=10, max_size=10))
def test_agrees_with_primer_rule(number: str) -> None:
    assert is_valid_nhs_number(number) == primer_nhs_valid(number)


@given(nine_digits, st.integers(min_value=0, max_value=8), st.integers(min_value=1, max_value=9))
def test_any_single_digit_error_is_caught(first_nine: str, position: int, shift: int) -> None:
    check = nhs_check_digit(first_nine)
    if check is None or len(set(first_nine + str(check))) == 1:
        return
    number = first_nine + str(check)
    assert is_valid_nhs_number(number)
    wrong = number[:position] + str((int(number[position]) + shift) % 10) + number[position + 1 :]
    assert not is_valid_nhs_number(wrong)


@given(
    st.sampled_from(["815", "201", "330", "938"]),
    st.text(alphabet=string.digits, min_size=9, max_size=9),
)
def test_upn_check_letter_matches_stdnum(la: str, rest: str) -> None:
    body = la + rest
    assert is_valid_upn(upn_check_letter(body) + body)


def test_upn_rejects_wrong_letter_and_unknown_la() -> None:
    body = "815200112345"
    letter = upn_check_letter(body)
    wrong = next(c for c in "ABCDEFGHJKLMNPQRTUVWXYZ" if c != letter)
    assert not is_valid_upn(wrong + body)
    unknown_la = "000200112345"
    assert not is_valid_upn(upn_check_letter(unknown_la) + unknown_la)


def test_upn_temporary_serial_letter() -> None:
    body = "81520011234A"  # a temporary UPN: the last character is a letter
    assert is_valid_upn(upn_check_letter(body) + body)


@given(st.sampled_from(["sw1a1aa", "SW1A 1AA", " sw1a  1aa ", "Sw1A1Aa"]))
def test_postcode_normal_form_ignores_case_and_spaces(raw: str) -> None:
    assert normalise_postcode(raw) == "SW1A 1AA"


@given(st.text(max_size=12))
def test_postcode_normalisation_is_idempotent(raw: str) -> None:
    once = normalise_postcode(raw)
    if once is not None:
        assert normalise_postcode(once) == once


def test_not_postcodes() -> None:
    for raw in ("", "12345", "HG1", "HG1 ABC", "Q1 1AA 2"):
        assert normalise_postcode(raw) is None
    assert normalise_postcode("YO32 5TT") == "YO32 5TT"
