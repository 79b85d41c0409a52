"""NHS number, UPN and UK postcode: validation and normal forms.

UPNs are checked by python-stdnum (``stdnum.gb.upn``, which knows the real LA codes). NHS
numbers get the same Modulus 11 check as ``stdnum.gb.nhs`` (tests check that the two agree),
done here directly because the loader runs it once per record; we add what stdnum does not:
all-same-digit NHS numbers are rejected.
"""

from __future__ import annotations

import re
from operator import mul

from stdnum.gb import upn as _upn

_SEPARATORS = re.compile(r"[\s\-]")
# Outward code (area, district) + inward code (sector, unit), per BS 7666.
_NHS_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)  # Modulus 11: the first digit weighs 10
_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")


def compact_nhs_number(value: str) -> str:
    """The digits of an NHS number as written with spaces or dashes."""
    return _SEPARATORS.sub("", value)


def is_valid_nhs_number(value: str | None) -> bool:
    """Ten digits passing Modulus 11, and not all one digit (those pass the check but are void)."""
    if not value:
        return False
    digits = value if value.isdigit() else compact_nhs_number(value)  # most come compact
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        return False
    if digits == digits[0] * 10:
        return False
    # The Modulus 11 rule stdnum.gb.nhs applies (tests check the two agree), without its
    # generic cleaning: the loader calls this once per record.
    return nhs_check_digit(digits[:9]) == int(digits[9])


def nhs_check_digit(first_nine: str) -> int | None:
    """The Modulus 11 check digit for nine digits, or None where no valid number exists."""
    if len(first_nine) != len(_NHS_WEIGHTS):
        raise ValueError("an NHS number's check digit follows exactly nine digits")
    total = sum(map(mul, map(int, first_nine), _NHS_WEIGHTS))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def compact_upn(value: str) -> str:
    """A UPN upper-cased without spaces."""
    return _SEPARATORS.sub("", value).upper()


def is_valid_upn(value: str | None) -> bool:
    """13 characters, check letter right, characters 2-4 a real LA code."""
    if not value:
        return False
    return bool(_upn.is_valid(compact_upn(value)))


def upn_check_letter(last_twelve: str) -> str:
    """The check letter for the 12 characters after it (the 13th may be a letter)."""
    alphabet = "ABCDEFGHJKLMNPQRTUVWXYZ"
    total = 0
    for weight, char in zip(range(2, 14), last_twelve, strict=True):
        value = int(char) if char.isdigit() else alphabet.index(char)
        total += weight * value
    return alphabet[total % 23]


def normalise_postcode(value: str | None) -> str | None:
    """A UK postcode in its standard form (``SW1A 1AA``), or None if it is not one."""
    if not value:
        return None
    compact = re.sub(r"\s+", "", value).upper()
    match = _POSTCODE.match(compact)
    if not match:
        return None
    return f"{match.group(1)} {match.group(2)}"


def classify_identifier(text: str) -> tuple[str, str]:
    """("nhs_number" | "upn" | "child_id", normal form) for what a person typed in a search box.

    Raises ``ValueError`` with a message fit to show (never echoing the value).
    """
    cleaned = text.strip()
    if not cleaned:
        raise ValueError("Enter an NHS number, a UPN or a child id")
    digits = compact_nhs_number(cleaned)
    if digits.isdigit() and len(digits) == 10:
        if not is_valid_nhs_number(digits):
            raise ValueError("The NHS number fails its check digit: check it and try again")
        return "nhs_number", digits
    upn = compact_upn(cleaned)
    if len(upn) == 13 and upn[0].isalpha() and upn[1:12].isdigit():
        if not is_valid_upn(upn):
            raise ValueError("The UPN fails its check letter: check it and try again")
        return "upn", upn
    return "child_id", cleaned
