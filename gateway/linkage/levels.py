"""Our comparisons (``probabilistic.comparisons``) decided in Python, one pair at a time.

Splink decides which level of each comparison a pair reaches in SQL, over whole tables; a
demographic search compares one query with a few dozen records and cannot wait for that. Each
decider here returns the index of the level Splink would choose (the first whose condition
holds), and ``SQL`` holds the conditions as a saved model writes them, so a model trained on
other comparisons is recognised and not misread (``match_weights.load_weights`` checks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from jellyfish import jaro_winkler_similarity

from gateway.linkage.names import forename_forms, one_edit_apart
from gateway.linkage.probabilistic import PersonRow, swapped_birth_date

JARO_WINKLER = 0.88  # as in ``probabilistic.comparisons``


@dataclass(frozen=True)
class Compared:
    """One side of a pair: the record's fields and the two that Splink derives from them."""

    row: PersonRow
    given_forms: tuple[str, ...] | None
    birth_date_swapped: str | None

    @classmethod
    def of(cls, row: PersonRow) -> Compared:
        forms = tuple(forename_forms(row.given_name)) or None
        return cls(row, forms, swapped_birth_date(row.birth_date))


def _names(left: str | None, right: str | None, nickname: bool) -> int:
    """null, exact, (nickname,) one edit apart, Jaro-Winkler similar, else."""
    if left is None or right is None:
        return 0
    if left == right:
        return 1
    after = 2 if nickname else 1  # the nickname level takes its caller's place 2
    if one_edit_apart(left, right):  # Damerau-Levenshtein distance <= 1
        return after + 1
    if jaro_winkler_similarity(left, right) >= JARO_WINKLER:
        return after + 2
    return after + 3


def given_name(left: Compared, right: Compared) -> int:
    a, b = left.row.given_name, right.row.given_name
    if a is not None and b is not None and a != b:
        forms_l, forms_r = left.given_forms, right.given_forms
        if forms_l and forms_r and not set(forms_l).isdisjoint(forms_r):
            return 2
    return _names(a, b, nickname=True)


def family_name(left: Compared, right: Compared) -> int:
    return _names(left.row.family_name, right.row.family_name, nickname=False)


def birth_date(left: Compared, right: Compared) -> int:
    a, b = left.row.birth_date, right.row.birth_date
    if a is None or b is None:
        return 0
    if a == b:
        return 1
    if a == right.birth_date_swapped:
        return 2
    if one_edit_apart(a, b):
        return 3
    return 4 if a[:4] == b[:4] else 5


def sex(left: Compared, right: Compared) -> int:
    return _exact(left.row.sex, right.row.sex)


def place(left: Compared, right: Compared) -> int:
    """Postcode, or the address where a postcode is missing."""
    a, b = left.row.postcode, right.row.postcode
    no_postcode = a is None or b is None
    if no_postcode and (left.row.address is None or right.row.address is None):
        return 0
    if a is not None and a == b:
        return 1
    if no_postcode and left.row.address == right.row.address:
        return 2
    if a is not None and b is not None and a.split(" ", 1)[0] == b.split(" ", 1)[0]:
        return 3
    return 4


def nhs_number(left: Compared, right: Compared) -> int:
    return _exact(left.row.nhs_number, right.row.nhs_number)


def upn(left: Compared, right: Compared) -> int:
    return _exact(left.row.upn, right.row.upn)


def _exact(a: str | None, b: str | None) -> int:
    if a is None or b is None:
        return 0
    return 1 if a == b else 2


Decider = Callable[[Compared, Compared], int]
DECIDERS: dict[str, Decider] = {
    "given_name": given_name,
    "family_name": family_name,
    "birth_date": birth_date,
    "sex": sex,
    "place": place,
    "nhs_number": nhs_number,
    "upn": upn,
}


# The fields of one side without which a comparison is null whatever the other side holds.
NEEDS: dict[str, tuple[str, ...]] = {
    "given_name": ("given_name",),
    "family_name": ("family_name",),
    "birth_date": ("birth_date",),
    "sex": ("sex",),
    "place": ("postcode", "address"),
    "nhs_number": ("nhs_number",),
    "upn": ("upn",),
}


def can_compare(comparison: str, side: Compared) -> bool:
    """Whether the comparison can reach a level other than null with this side in it."""
    return any(getattr(side.row, name) is not None for name in NEEDS[comparison])


def _null(column: str) -> str:
    return f'"{column}_l" IS NULL OR "{column}_r" IS NULL'


def _same(column: str) -> str:
    return f'"{column}_l" = "{column}_r"'


def _edit(column: str) -> str:
    return f'damerau_levenshtein("{column}_l", "{column}_r") <= 1'


def _jaro(column: str) -> str:
    return f'jaro_winkler_similarity("{column}_l", "{column}_r") >= {JARO_WINKLER}'


# Each comparison's level conditions, in order, as a saved Splink model holds them.
SQL: dict[str, tuple[str, ...]] = {
    "given_name": (
        _null("given_name"),
        _same("given_name"),
        'array_length(list_intersect("given_forms_l", "given_forms_r")) >= 1',
        _edit("given_name"),
        _jaro("given_name"),
        "ELSE",
    ),
    "family_name": (
        _null("family_name"),
        _same("family_name"),
        _edit("family_name"),
        _jaro("family_name"),
        "ELSE",
    ),
    "birth_date": (
        _null("birth_date"),
        _same("birth_date"),
        "birth_date_l = birth_date_swapped_r",
        _edit("birth_date"),
        "substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4)",
        "ELSE",
    ),
    "sex": (_null("sex"), _same("sex"), "ELSE"),
    "place": (
        '("postcode_l" IS NULL OR "postcode_r" IS NULL)'
        ' AND ("address_l" IS NULL OR "address_r" IS NULL)',
        _same("postcode"),
        "(postcode_l is null or postcode_r is null) and address_l = address_r",
        "split_part(postcode_l, ' ', 1) = split_part(postcode_r, ' ', 1)",
        "ELSE",
    ),
    "nhs_number": (_null("nhs_number"), _same("nhs_number"), "ELSE"),
    "upn": (_null("upn"), _same("upn"), "ELSE"),
}

# What each level means, said of a search candidate (never the values compared).
SAYS: dict[str, tuple[str, ...]] = {
    "given_name": (
        "",
        "given name matches",
        "given name is a short form of the same name",
        "given name is one letter different",
        "given name is similar",
        "given name differs",
    ),
    "family_name": (
        "",
        "family name matches",
        "family name is one letter different (a likely misspelling)",
        "family name is similar",
        "family name differs",
    ),
    "birth_date": (
        "",
        "birth date matches",
        "birth date matches with day and month swapped",
        "birth date is one digit different",
        "birth date is in the same year",
        "birth date differs",
    ),
    "sex": ("", "sex agrees", "sex differs"),
    "place": (
        "",
        "postcode matches",
        "address matches",
        "postcode district matches",
        "postcode differs",
    ),
    "nhs_number": ("", "NHS number matches", "NHS number differs"),
    "upn": ("", "UPN matches", "UPN differs"),
}
