"""A synthetic population of children and the noisy ways each agency records them.

Deterministic for a seed. Families have siblings (some twins) at one address; agencies record
children with nicknames, typos, surname changes, swapped day and month, old addresses, missing
or mistyped NHS numbers, duplicates, and a share of invalid records. Synthetic NHS numbers are
in the 999 test range with a valid check digit.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from gateway.identifiers import nhs_check_digit, upn_check_letter
from gateway.synth import names

REFERENCE_DATE = date(2026, 11, 1)
LA_CODE = "815"


@dataclass(frozen=True)
class Home:
    lines: tuple[str, ...]
    postcode: str


@dataclass(frozen=True)
class Child:
    """The truth about one child, before any agency writes it down."""

    key: str
    given_name: str
    family_name: str
    birth_date: date
    sex: str  # "female" | "male"
    nhs_number: str
    upn: str
    home: Home
    previous_home: Home | None
    previous_family_name: str | None
    family_key: str
    twin: bool
    school: tuple[str, str]
    gp_practice: str
    restricted: bool
    # Which agencies know the child, and how.
    ehe: bool
    cme: bool
    left_school: bool
    health_fhir: bool
    health_adt: bool
    social_care: bool
    cin_census: bool
    episodes: tuple[tuple[str, date, date | None, str], ...] = field(default=())


@dataclass(frozen=True)
class Recorded:
    """How one source wrote a child down (what the writers put in the files)."""

    child: Child
    record_id: str
    given_name: str
    family_name: str
    birth_date: date | None
    sex: str | None
    nhs_number: str | None
    upn: str | None
    home: Home
    defect: str | None = None  # an invalid-record kind the writer must produce


def make_nhs_number(rng: random.Random) -> str:
    while True:
        first_nine = "999" + "".join(rng.choice("0123456789") for _ in range(6))
        check = nhs_check_digit(first_nine)
        if check is not None:
            return first_nine + str(check)


def make_upn(rng: random.Random, estab: str, year: int) -> str:
    rest = f"{LA_CODE}{estab}{year % 100:02d}{rng.randrange(1000):03d}"
    return upn_check_letter(rest) + rest


def _home(rng: random.Random) -> Home:
    town, area, districts = rng.choice(names.TOWNS)
    street = f"{rng.randrange(1, 180)} {rng.choice(names.STREETS)}"
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    inward = f"{rng.randrange(1, 10)}{rng.choice(letters)}{rng.choice(letters)}"
    return Home((street, town), f"{area}{rng.choice(districts)} {inward}")


def make_population(children: int, seed: int) -> list[Child]:
    """About ``children`` children in families of one to four, deterministic for ``seed``."""
    rng = random.Random(seed)
    result: list[Child] = []
    family = 0
    while len(result) < children:
        family += 1
        result.extend(_family(rng, f"F{family:06d}", len(result), children - len(result)))
    return _unique_identifiers(rng, result)


REDRAWS_AT_SCHOOL = 20


def _unique_identifiers(rng: random.Random, population: list[Child]) -> list[Child]:
    """Real NHS numbers and UPNs are unique: redraw the few random ones that collide."""
    seen_nhs: set[str] = set()
    seen_upn: set[str] = set()
    result = []
    for child in population:
        nhs, upn = child.nhs_number, child.upn
        while nhs in seen_nhs:
            nhs = make_nhs_number(rng)
        tries = 0
        while upn in seen_upn:
            # A school has 1,000 serial numbers a year: past that (a population of many tens of
            # thousands) the UPN names another establishment, as a UPN from an earlier school does.
            tries += 1
            estab = (
                child.school[0] if tries < REDRAWS_AT_SCHOOL else f"{rng.randrange(3000, 10000)}"
            )
            upn = make_upn(rng, estab, child.birth_date.year + 5)
        seen_nhs.add(nhs)
        seen_upn.add(upn)
        result.append(replace(child, nhs_number=nhs, upn=upn))
    return result


@dataclass(frozen=True)
class Household:
    """What siblings share: a surname, a home, and which agencies know the family."""

    family_key: str
    surname: str
    home: Home
    previous_home: Home | None
    previous_surname: str | None
    known_to_social_care: bool
    home_educating: bool


def _family(rng: random.Random, family_key: str, start: int, room: int) -> list[Child]:
    known_to_social_care = rng.random() < 0.16
    household = Household(
        family_key=family_key,
        surname=rng.choice(names.SURNAMES),
        home=_home(rng),
        previous_home=_home(rng) if rng.random() < 0.25 else None,
        previous_surname=rng.choice(names.SURNAMES) if rng.random() < 0.04 else None,
        known_to_social_care=known_to_social_care,
        home_educating=rng.random() < (0.45 if known_to_social_care else 0.15),
    )
    size = min(room, rng.choices((1, 2, 3, 4), weights=(40, 35, 18, 7))[0])
    twins = size >= 2 and rng.random() < 0.08
    members: list[Child] = []
    birth = REFERENCE_DATE - timedelta(days=rng.randrange(4 * 365, 16 * 365))
    oldest = REFERENCE_DATE - timedelta(days=17 * 365)
    for index in range(size):
        if index > 0 and not (twins and index == 1):
            gap = rng.randrange(300, 1500)
            # An older sibling past the oldest age is born after the first instead: siblings
            # who are not twins never share a birth date.
            older = birth - timedelta(days=gap)
            birth = older if older >= oldest else members[0].birth_date + timedelta(days=gap)
        key = f"T{start + index + 1:07d}"
        taken = {m.given_name for m in members}
        members.append(_child(rng, key, household, birth, twin=twins and index < 2, taken=taken))
    return members


def _child(
    rng: random.Random, key: str, household: Household, birth: date, *, twin: bool, taken: set[str]
) -> Child:
    sex = rng.choice(("female", "male"))
    # Parents do not give two of their children the same first name.
    given = rng.choice(
        [n for n in (names.GIRLS if sex == "female" else names.BOYS) if n not in taken]
    )
    estab, school_name = rng.choice(names.SCHOOLS)
    social, ehe = household.known_to_social_care, household.home_educating
    cme = not ehe and rng.random() < 0.05
    episodes: list[tuple[str, date, date | None, str]] = []
    if social:
        start = REFERENCE_DATE - timedelta(days=rng.randrange(30, 2000))
        team = rng.choice(names.TEAMS)
        closed = rng.random() < 0.5
        end = start + timedelta(days=rng.randrange(20, 400)) if closed else None
        end = end if end is None or end < REFERENCE_DATE else None
        episodes.append(("referral", start, end, team))
        for kind, offset, chance in (("cin", 10, 1.0), ("cpp", 40, 0.35), ("lac", 60, 0.1)):
            if chance == 1.0 or rng.random() < chance:
                begun = start + timedelta(days=offset)
                # A plan never ends before it began (the suite holds that as a defect).
                episodes.append((kind, begun, end and max(end, begun), team))
    return Child(
        key=key,
        given_name=given,
        family_name=household.surname,
        birth_date=birth,
        sex=sex,
        nhs_number=make_nhs_number(rng),
        upn=make_upn(rng, estab, birth.year + 5),
        home=household.home,
        previous_home=household.previous_home,
        previous_family_name=household.previous_surname,
        family_key=household.family_key,
        twin=twin,
        school=(estab, school_name),
        gp_practice=rng.choice(names.GP_PRACTICES),
        restricted=rng.random() < 0.01,
        ehe=ehe,
        cme=cme,
        left_school=ehe or cme or rng.random() < 0.2,
        health_fhir=rng.random() < 0.9,
        health_adt=rng.random() < 0.3,
        social_care=social,
        cin_census=social and rng.random() < 0.8,
        episodes=tuple(episodes),
    )


@dataclass(frozen=True)
class Noise:
    """How careless one source is (probabilities per record)."""

    nickname: float = 0.08
    typo: float = 0.04
    swap_day_month: float = 0.02
    old_surname: float = 0.5  # of children with a previous surname, how many still under it
    old_address: float = 0.3  # of children who moved, how many at the old address here
    missing_nhs: float = 0.1
    mistyped_nhs: float = 0.01
    missing_upn: float = 0.05
    duplicate: float = 0.02
    invalid: float = 0.02


def record_as(
    rng: random.Random, child: Child, record_id: str, noise: Noise, defects: tuple[str, ...]
) -> Recorded:
    """One source's version of ``child``, with that source's kinds of mistakes."""
    given = child.given_name
    if given in names.NICKNAMES and rng.random() < noise.nickname:
        given = names.NICKNAMES[given]
    elif rng.random() < noise.typo:
        given = _typo(rng, given)
    family = child.family_name
    if child.previous_family_name and rng.random() < noise.old_surname:
        family = child.previous_family_name
    elif rng.random() < noise.typo:
        family = _typo(rng, family)
    birth: date | None = child.birth_date
    if (
        birth
        and birth.day <= 12
        and birth.day != birth.month
        and rng.random() < noise.swap_day_month
    ):
        birth = date(birth.year, birth.day, birth.month)
    nhs: str | None = child.nhs_number
    if rng.random() < noise.missing_nhs:
        nhs = None
    elif rng.random() < noise.mistyped_nhs:
        true_nhs = child.nhs_number
        nhs = true_nhs[:-1] + str((int(true_nhs[-1]) + 1) % 10)
    upn = None if rng.random() < noise.missing_upn else child.upn
    home = (
        child.previous_home
        if child.previous_home and rng.random() < noise.old_address
        else child.home
    )
    defect = rng.choice(defects) if defects and rng.random() < noise.invalid else None
    return Recorded(child, record_id, given, family, birth, child.sex, nhs, upn, home, defect)


def with_duplicates(
    rng: random.Random, records: list[Recorded], noise: Noise, prefix: str
) -> list[Recorded]:
    """Add a second record, under a new id, for a share of children (a duplicate in the source)."""
    extra = [
        replace(r, record_id=f"{prefix}{r.record_id}", defect=None)
        for r in records
        if r.defect is None and rng.random() < noise.duplicate
    ]
    return records + extra


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:  # transpose
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:  # drop
        return word[:i] + word[i + 1 :]
    return word[:i] + rng.choice("aeiourstln") + word[i + 1 :]
