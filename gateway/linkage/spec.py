"""The linkage specification, written once as data: comparisons, their levels, blocking rules.

Everything else is generated from it:

- the Splink settings (``probabilistic.linkage_settings``: each level's SQL condition, label and
  term-frequency column, as a saved model holds them);
- the Python level deciders a demographic search uses (``levels.DECIDERS``, ``levels.SQL``,
  ``levels.SAYS``): each level kind below states its SQL and decides the same thing in Python;
- the blocking rules Splink predicts with (``probabilistic.BLOCKING_RULES``) and the blocking
  keys an incremental run looks neighbours up by (``blocking.blocking_keys``): each rule is a
  tuple of derived columns (``DERIVED``) that two records must share.

No Splink import here: the API reads this module.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from jellyfish import jaro_winkler_similarity, metaphone

from gateway.linkage.names import canonical_forename, forename_forms, one_edit_apart


class Row(Protocol):
    """What the spec reads of a record (``probabilistic.PersonRow`` is one)."""

    @property
    def given_name(self) -> str | None: ...

    @property
    def family_name(self) -> str | None: ...

    @property
    def birth_date(self) -> str | None: ...

    @property
    def sex(self) -> str | None: ...

    @property
    def postcode(self) -> str | None: ...

    @property
    def nhs_number(self) -> str | None: ...

    @property
    def upn(self) -> str | None: ...

    @property
    def address(self) -> str | None: ...


@dataclass(frozen=True)
class Compared:
    """One side of a pair: the record's fields and the two that Splink derives from them."""

    row: Row
    given_forms: tuple[str, ...] | None
    birth_date_swapped: str | None

    @classmethod
    def of(cls, row: Row) -> Compared:
        forms = tuple(forename_forms(row.given_name)) or None
        return cls(row, forms, swapped_birth_date(row.birth_date))


def swapped_birth_date(born: str | None) -> str | None:
    """The date with day and month swapped (``2019-03-07``: ``2019-07-03``)."""
    return f"{born[:4]}-{born[8:10]}-{born[5:7]}" if born and len(born) == 10 else None


def _values(left: Compared, right: Compared, column: str) -> tuple[str | None, str | None]:
    return getattr(left.row, column), getattr(right.row, column)


# --- level kinds: each says its SQL (as Splink writes it) and decides it in Python ---------


@dataclass(frozen=True)
class Null:
    """Either side lacks every one of the columns: no evidence either way."""

    columns: tuple[str, ...]
    says: str = ""

    @property
    def sql(self) -> str:
        if len(self.columns) == 1:
            (c,) = self.columns
            return f'"{c}_l" IS NULL OR "{c}_r" IS NULL'
        return " AND ".join(f'("{c}_l" IS NULL OR "{c}_r" IS NULL)' for c in self.columns)

    def holds(self, left: Compared, right: Compared) -> bool:
        return all(None in _values(left, right, c) for c in self.columns)


@dataclass(frozen=True)
class Exact:
    column: str
    says: str
    term_frequencies: bool = False  # Splink's term-frequency adjustment on this level

    @property
    def sql(self) -> str:
        return f'"{self.column}_l" = "{self.column}_r"'

    def holds(self, left: Compared, right: Compared) -> bool:
        a, b = _values(left, right, self.column)
        return a is not None and a == b


@dataclass(frozen=True)
class SharedForm:
    """The forenames share a formal form (one is a diminutive of the other)."""

    says: str

    sql = 'array_length(list_intersect("given_forms_l", "given_forms_r")) >= 1'

    def holds(self, left: Compared, right: Compared) -> bool:
        a, b = left.given_forms, right.given_forms
        return bool(a and b) and not set(a or ()).isdisjoint(b or ())


@dataclass(frozen=True)
class OneEdit:
    """Damerau-Levenshtein distance at most 1."""

    column: str
    says: str

    @property
    def sql(self) -> str:
        return f'damerau_levenshtein("{self.column}_l", "{self.column}_r") <= 1'

    def holds(self, left: Compared, right: Compared) -> bool:
        a, b = _values(left, right, self.column)
        return a is not None and b is not None and one_edit_apart(a, b)


@dataclass(frozen=True)
class JaroWinkler:
    column: str
    says: str
    threshold: float = 0.88

    @property
    def sql(self) -> str:
        return f'jaro_winkler_similarity("{self.column}_l", "{self.column}_r") >= {self.threshold}'

    def holds(self, left: Compared, right: Compared) -> bool:
        a, b = _values(left, right, self.column)
        return a is not None and b is not None and jaro_winkler_similarity(a, b) >= self.threshold


@dataclass(frozen=True)
class NamesSwapped:
    """Forename and surname exchanged between the records."""

    says: str

    sql = '"given_name_l" = "family_name_r" AND "family_name_l" = "given_name_r"'

    def holds(self, left: Compared, right: Compared) -> bool:
        a, b = left.row, right.row
        return (
            a.given_name is not None
            and a.given_name == b.family_name
            and a.family_name is not None
            and a.family_name == b.given_name
        )


@dataclass(frozen=True)
class DayMonthSwapped:
    says: str

    sql = "birth_date_l = birth_date_swapped_r"

    def holds(self, left: Compared, right: Compared) -> bool:
        return left.row.birth_date is not None and left.row.birth_date == right.birth_date_swapped


@dataclass(frozen=True)
class SameYear:
    says: str

    sql = "substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4)"

    def holds(self, left: Compared, right: Compared) -> bool:
        a, b = left.row.birth_date, right.row.birth_date
        return a is not None and b is not None and a[:4] == b[:4]


@dataclass(frozen=True)
class YearApart:
    """The same day and month a year apart (a year written wrong)."""

    says: str

    sql = (
        "substr(birth_date_l, 5) = substr(birth_date_r, 5) AND "
        "abs(cast(substr(birth_date_l, 1, 4) AS INTEGER) "
        "- cast(substr(birth_date_r, 1, 4) AS INTEGER)) = 1"
    )

    def holds(self, left: Compared, right: Compared) -> bool:
        a, b = left.row.birth_date, right.row.birth_date
        if a is None or b is None or a[4:] != b[4:] or not (a[:4].isdigit() and b[:4].isdigit()):
            return False
        return abs(int(a[:4]) - int(b[:4])) == 1


@dataclass(frozen=True)
class FirstOfJanuary:
    """The same year, one side the 1st of January (a default where the date was not known)."""

    says: str

    sql = (
        "substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4) AND "
        "(substr(birth_date_l, 6) = '01-01' OR substr(birth_date_r, 6) = '01-01')"
    )

    def holds(self, left: Compared, right: Compared) -> bool:
        a, b = left.row.birth_date, right.row.birth_date
        return a is not None and b is not None and a[:4] == b[:4] and "01-01" in (a[5:], b[5:])


@dataclass(frozen=True)
class SameAddressNoPostcode:
    says: str

    sql = "(postcode_l is null or postcode_r is null) and address_l = address_r"

    def holds(self, left: Compared, right: Compared) -> bool:
        no_postcode = left.row.postcode is None or right.row.postcode is None
        return (
            no_postcode and left.row.address is not None and left.row.address == right.row.address
        )


@dataclass(frozen=True)
class SameDistrict:
    says: str

    sql = "split_part(postcode_l, ' ', 1) = split_part(postcode_r, ' ', 1)"

    def holds(self, left: Compared, right: Compared) -> bool:
        a, b = left.row.postcode, right.row.postcode
        return a is not None and b is not None and a.split(" ", 1)[0] == b.split(" ", 1)[0]


@dataclass(frozen=True)
class Else:
    says: str

    sql = "ELSE"

    def holds(self, left: Compared, right: Compared) -> bool:
        return True


Level = (
    Null
    | Exact
    | SharedForm
    | OneEdit
    | JaroWinkler
    | NamesSwapped
    | DayMonthSwapped
    | SameYear
    | YearApart
    | FirstOfJanuary
    | SameAddressNoPostcode
    | SameDistrict
    | Else
)


@dataclass(frozen=True)
class Comparison:
    name: str
    levels: tuple[Level, ...]  # the null level first, the else level last

    @property
    def needs(self) -> tuple[str, ...]:
        """The fields of one side without which the comparison is null."""
        first = self.levels[0]
        assert isinstance(first, Null)
        return first.columns


def _names(column: str, what: str, *, nickname: bool, tf: bool) -> Comparison:
    forms = (SharedForm(f"{what} is a short form of the same name"),) if nickname else ()
    # Names swapped counts once, in the forename's comparison (the surname's says "differs").
    swapped = (NamesSwapped("forename and family name are swapped"),) if nickname else ()
    return Comparison(
        column,
        (
            Null((column,)),
            Exact(column, f"{what} matches", term_frequencies=tf),
            *forms,
            OneEdit(
                column,
                f"{what} is one letter different" + ("" if nickname else " (a likely misspelling)"),
            ),
            JaroWinkler(column, f"{what} is similar"),
            *swapped,
            Else(f"{what} differs"),
        ),
    )


def _identifier(column: str, what: str) -> Comparison:
    return Comparison(
        column, (Null((column,)), Exact(column, f"{what} matches"), Else(f"{what} differs"))
    )


COMPARISONS: tuple[Comparison, ...] = (
    _names("given_name", "given name", nickname=True, tf=True),
    _names("family_name", "family name", nickname=False, tf=True),
    Comparison(
        "birth_date",
        (
            Null(("birth_date",)),
            Exact("birth_date", "birth date matches"),
            DayMonthSwapped("birth date matches with day and month swapped"),
            OneEdit("birth_date", "birth date is one digit different"),
            FirstOfJanuary("birth date is the 1st of January of the same year (a default)"),
            YearApart("birth date is the same day and month a year apart"),
            SameYear("birth date is in the same year"),
            Else("birth date differs"),
        ),
    ),
    Comparison("sex", (Null(("sex",)), Exact("sex", "sex agrees"), Else("sex differs"))),
    Comparison(
        "place",  # postcode, or the address where a postcode is missing: one comparison
        (
            Null(("postcode", "address")),
            Exact("postcode", "postcode matches", term_frequencies=True),
            SameAddressNoPostcode("address matches"),
            SameDistrict("postcode district matches"),
            Else("postcode differs"),
        ),
    ),
    # Identifiers are evidence with their own m and u, not verdicts (see ``corroboration``).
    _identifier("nhs_number", "NHS number"),
    _identifier("upn", "UPN"),
)


# --- blocking: derived columns, and the rules as tuples of them -----------------------------


def unordered_birth_date(born: str | None) -> str | None:
    """The year, then day and month in either order: a date and its swap give the same."""
    if not born or len(born) != 10:
        return None
    first, second = sorted((born[5:7], born[8:10]))
    return f"{born[:4]}-{first}-{second}"


@functools.lru_cache(maxsize=100_000)  # a population repeats its names many times over
def _sound(name: str) -> str | None:
    return metaphone(name) or None


def _first(value: str | None) -> str | None:
    return value[:1] if value else None


def _names_unordered(row: Row) -> str | None:
    """Both names in either order, each in its formal form with only its letters (a record
    with names swapped, a nickname or a spaced double-barrelled surname gives the same)."""
    given, family = canonical_whole(row.given_name), canonical_whole(row.family_name)
    return "|".join(sorted((given, family))) if given and family else None


@functools.lru_cache(maxsize=100_000)
def canonical_whole(name: str | None) -> str | None:
    if not name:
        return None
    letters = "".join(ch for ch in name if ch.isalpha())
    return canonical_forename(letters) if letters else None


# What a blocking rule may join on, each computed once per record from its fields.
DERIVED: dict[str, Callable[[Row], str | None]] = {
    "nhs_number": lambda r: r.nhs_number,
    "upn": lambda r: r.upn,
    "family_name": lambda r: r.family_name,
    "postcode": lambda r: r.postcode,
    "given_canonical": lambda r: canonical_forename(r.given_name),
    "given_initial": lambda r: _first(r.given_name),
    "canonical_initial": lambda r: _first(canonical_forename(r.given_name)),
    "family_initial": lambda r: _first(r.family_name),
    "family_sound": lambda r: _sound(r.family_name) if r.family_name else None,
    "names_unordered": _names_unordered,
    "birth_date_unordered": lambda r: unordered_birth_date(r.birth_date),
    "birth_year": lambda r: _date_part(r.birth_date, 0, 4),
    "birth_year_month": lambda r: _date_part(r.birth_date, 0, 7),
    "birth_day_month": lambda r: _date_part(r.birth_date, 5, 10),
}


def _date_part(born: str | None, start: int, end: int) -> str | None:
    return born[start:end] if born and len(born) == 10 else None


@dataclass(frozen=True)
class BlockingRule:
    """Two records are compared when they share every one of ``columns`` (none missing)."""

    prefix: str  # the rule's blocking key prefix in ``link_key``
    columns: tuple[str, ...]
    why: str

    @property
    def sql(self) -> str:
        return " and ".join(f"l.{c} = r.{c}" for c in self.columns)

    def key(self, derived: dict[str, str | None]) -> str | None:
        values = [derived[c] for c in self.columns]
        if not all(values):
            return None
        return f"{self.prefix}:" + "|".join(v for v in values if v)


# Each rule survives a different error: no rule needs every field, and not all need the birth
# date. The identifier rules' keys (``n:``, ``u:``) are also the identifier joins' keys.
BLOCKING: tuple[BlockingRule, ...] = (
    BlockingRule("n", ("nhs_number",), "an NHS number, whatever else differs"),
    BlockingRule("u", ("upn",), "a UPN, whatever else differs"),
    BlockingRule("df", ("birth_date_unordered", "family_name"), "a typo in the forename"),
    BlockingRule("dg", ("birth_date_unordered", "given_canonical"), "a new or mistyped surname"),
    BlockingRule("p", ("postcode", "given_initial"), "a birth-date error at the same home"),
    BlockingRule(
        "di",
        ("birth_date_unordered", "canonical_initial", "family_initial"),
        "a typo in each name (never in the first letter) on records of a child that moved",
    ),
    # Names alone would make blocks of hundreds in a large population (every Amelia Carter):
    # with the year, or with the day and month, any one error in the birth date still meets.
    BlockingRule("ny", ("names_unordered", "birth_year"), "a day or month error, or names swapped"),
    BlockingRule("nd", ("names_unordered", "birth_day_month"), "a year error, or names swapped"),
    BlockingRule("sp", ("family_sound", "postcode"), "a new forename, spelling or birth date"),
    BlockingRule(
        "fm",
        ("family_name", "canonical_initial", "birth_year_month"),
        "a day error and a misspelt forename away from home",
    ),
)
BLOCKING_COLUMNS = tuple(dict.fromkeys(c for rule in BLOCKING for c in rule.columns))


def derived_columns(row: Row) -> dict[str, str | None]:
    """Every column a blocking rule joins on, for one record."""
    return {column: DERIVED[column](row) for column in BLOCKING_COLUMNS}


def blocking_keys_of(row: Row) -> set[str]:
    """The keys of every blocking rule the record can take part in."""
    derived = derived_columns(row)
    return {key for rule in BLOCKING if (key := rule.key(derived))}
