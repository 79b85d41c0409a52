"""Identifiers are evidence, not verdicts: when a shared NHS number or UPN may join records.

Real records carry another child's valid number: a typo that still passes the check digit, a
sibling's or a parent's number copied in. So two records sharing a valid identifier are joined
by the identifier rule only when their demographics corroborate it (the forename or the birth
date agrees within the tolerances below) and nothing contradicts it (different forenames,
birth dates or sex). Otherwise the pair goes to review with the conflict named. Two different
valid NHS numbers remain two children (``clustering``).
"""

from __future__ import annotations

from jellyfish import jaro_winkler_similarity, metaphone

from gateway.linkage.names import is_common_forename, one_edit_apart, same_forename
from gateway.linkage.spec import Row, swapped_birth_date

SIMILAR_FORENAME = 0.88  # Jaro-Winkler, as the model's similar-name level


def forenames_agree(a: Row, b: Row) -> bool:
    """The same forename or a diminutive; a misspelling (one edit apart, similar or sounding
    the same) unless both are forenames in their own right (Isabella and Isabelle may be
    twins); or forename and surname swapped between the records, even misspelt."""
    x, y = a.given_name, b.given_name
    if x is None or y is None:
        return False
    if same_forename(x, y) or _swapped(a, b):
        return True
    return _close(x, y) and not (is_common_forename(x) and is_common_forename(y))


def _close(x: str, y: str) -> bool:
    return (
        one_edit_apart(x, y)
        or jaro_winkler_similarity(x, y) >= SIMILAR_FORENAME
        or metaphone(x) == metaphone(y)
    )


def _swapped(a: Row, b: Row) -> bool:
    """Forename and surname swapped between the records, each the same or misspelt."""
    x, y = a.given_name, b.given_name
    p, q = a.family_name, b.family_name
    if not (x and y and p and q) or x == y:
        return False
    return (x == q or _close(x, q)) and (y == p or _close(y, p))


def birth_dates_agree(a: Row, b: Row) -> bool:
    """Equal, day and month swapped, one digit different, the same year (a 1st of January
    default, a wrong day and month) or the same day and month a year apart."""
    x, y = a.birth_date, b.birth_date
    if x is None or y is None:
        return False
    if x == y or x == swapped_birth_date(y) or one_edit_apart(x, y) or x[:4] == y[:4]:
        return True
    return (
        x[4:] == y[4:] and x[:4].isdigit() and y[:4].isdigit() and abs(int(x[:4]) - int(y[:4])) == 1
    )


def identifier_conflict(a: Row, b: Row) -> str | None:
    """None when the records' demographics corroborate an identifier they share; otherwise
    what stands against it, for a reviewer (names of fields, never their values)."""
    conflicts = []
    if a.given_name and b.given_name and not forenames_agree(a, b):
        conflicts.append("different forenames")
    if a.birth_date and b.birth_date and not birth_dates_agree(a, b):
        conflicts.append("different birth dates")
    if a.sex and b.sex and a.sex != b.sex:
        conflicts.append("different sex")
    if conflicts:
        return ", ".join(conflicts)
    if not (forenames_agree(a, b) or birth_dates_agree(a, b)):
        return "neither forename nor birth date to corroborate it"
    return None


def shared_identifier(a: Row, b: Row) -> str | None:
    """Which valid identifier two records share, if any."""
    if a.nhs_number and a.nhs_number == b.nhs_number:
        return "NHS number"
    if a.upn and a.upn == b.upn:
        return "UPN"
    return None
