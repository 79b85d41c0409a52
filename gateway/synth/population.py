"""A synthetic population of children and the noisy ways each agency records them.

Deterministic for a seed. Families have siblings (some twins and triplets, some with names
close to each other's) at one address, some with a double-barrelled surname, a surname changed
after a parent's marriage, a previous address or a second parent's address (``World``).
Agencies record children with nicknames, alternate spellings, typos, names swapped or missing,
birth-date errors (a digit, the year off by one, a 1st of January default, day and month
swapped), old addresses, missing or mistyped NHS numbers, another child's or a parent's valid
NHS number, duplicates, and a share of invalid records (``Noise``). Every rate is a field with
its meaning beside it. Synthetic NHS numbers are in the 999 test range with a valid check digit.
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
    other_home: Home | None = None  # a second parent's address
    sibling_nhs: tuple[str, ...] = ()  # the siblings' NHS numbers (a record may carry one)
    parent_nhs: str | None = None  # a parent's NHS number (a record may carry it)


@dataclass(frozen=True)
class World:
    """How the population itself makes linkage hard (shares of families or of siblings)."""

    twins: float = 0.08  # families of two or more children whose first two are twins
    triplets: float = 0.01  # families of three or more whose first three are triplets
    double_barrelled: float = 0.06  # families with a double-barrelled surname (Smith-Jones)
    surname_change: float = 0.04  # families whose surname changed (a parent's marriage)
    moved: float = 0.25  # families with a previous address
    separated: float = 0.1  # families with a second parent's address
    similar_sibling_names: float = 0.2  # younger siblings named close to an older one


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


def make_population(children: int, seed: int, world: World | None = None) -> list[Child]:
    """About ``children`` children in families of one to four, deterministic for ``seed``."""
    rng = random.Random(seed)
    world = world or World()
    result: list[Child] = []
    family = 0
    while len(result) < children:
        family += 1
        result.extend(_family(rng, world, f"F{family:06d}", len(result), children - len(result)))
    return _family_numbers(rng, _unique_identifiers(rng, result))


def _family_numbers(rng: random.Random, population: list[Child]) -> list[Child]:
    """Each child's siblings' NHS numbers and a parent's (unique too), which records may carry."""
    taken = {child.nhs_number for child in population}
    families: dict[str, list[Child]] = {}
    for child in population:
        families.setdefault(child.family_key, []).append(child)
    result = []
    for members in families.values():
        parent = make_nhs_number(rng)
        while parent in taken:
            parent = make_nhs_number(rng)
        taken.add(parent)
        for child in members:
            siblings = tuple(m.nhs_number for m in members if m is not child)
            result.append(replace(child, sibling_nhs=siblings, parent_nhs=parent))
    return result


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
    other_home: Home | None = None


def _surname(rng: random.Random, world: World) -> str:
    surname = rng.choice(names.SURNAMES)
    if rng.random() < world.double_barrelled:
        second = rng.choice([n for n in names.SURNAMES if n != surname])
        surname = f"{surname}-{second}"
    return surname


def _family(
    rng: random.Random, world: World, family_key: str, start: int, room: int
) -> list[Child]:
    known_to_social_care = rng.random() < 0.16
    household = Household(
        family_key=family_key,
        surname=_surname(rng, world),
        home=_home(rng),
        previous_home=_home(rng) if rng.random() < world.moved else None,
        previous_surname=_surname(rng, world) if rng.random() < world.surname_change else None,
        known_to_social_care=known_to_social_care,
        home_educating=rng.random() < (0.45 if known_to_social_care else 0.15),
        other_home=_home(rng) if rng.random() < world.separated else None,
    )
    size = min(room, rng.choices((1, 2, 3, 4), weights=(40, 35, 18, 7))[0])
    draw = rng.random()
    born_together = (
        3 if size >= 3 and draw < world.triplets else 2 if size >= 2 and draw < world.twins else 1
    )
    members: list[Child] = []
    birth = REFERENCE_DATE - timedelta(days=rng.randrange(4 * 365, 16 * 365))
    oldest = REFERENCE_DATE - timedelta(days=17 * 365)
    for index in range(size):
        if index >= born_together:
            gap = rng.randrange(300, 1500)
            # An older sibling past the oldest age is born after the first instead: siblings
            # who are not twins never share a birth date.
            older = birth - timedelta(days=gap)
            birth = older if older >= oldest else members[0].birth_date + timedelta(days=gap)
        key = f"T{start + index + 1:07d}"
        taken = {m.given_name for m in members}
        similar = bool(members) and rng.random() < world.similar_sibling_names
        twin = born_together > 1 and index < born_together
        members.append(_child(rng, key, household, birth, twin=twin, taken=taken, similar=similar))
    return members


def _given_name(rng: random.Random, sex: str, taken: set[str], similar: bool) -> str:
    """A forename for a child: parents do not give two of their children the same one, but
    may give one close to an older sibling's."""
    pool = names.GIRLS if sex == "female" else names.BOYS
    if similar:
        close = [
            n
            for group in names.SIMILAR_SIBLING_NAMES
            if not taken.isdisjoint(group)
            for n in group
            if n not in taken and (n in pool or n not in names.GIRLS + names.BOYS)
        ]
        close = [n for n in close if _sex_of_group(n) in (sex, None)]
        if close:
            return rng.choice(sorted(close))
    return rng.choice([n for n in pool if n not in taken])


def _sex_of_group(name: str) -> str | None:
    """The sex of the names a similar-names group holds with ``name`` (None: not known)."""
    for group in names.SIMILAR_SIBLING_NAMES:
        if name in group:
            if any(n in names.GIRLS for n in group):
                return "female"
            if any(n in names.BOYS for n in group):
                return "male"
    return None


def _child(
    rng: random.Random,
    key: str,
    household: Household,
    birth: date,
    *,
    twin: bool,
    taken: set[str],
    similar: bool = False,
) -> Child:
    sex = rng.choice(("female", "male"))
    given = _given_name(rng, sex, taken, similar)
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
        other_home=household.other_home,
    )


@dataclass(frozen=True)
class Noise:
    """How careless one source is (probabilities per record)."""

    nickname: float = 0.08  # a known diminutive for the forename (Tom for Thomas)
    alternate_spelling: float = 0.05  # of names with another spelling (Mohammed, Muhammad)
    typo: float = 0.04  # a letter changed, dropped or two swapped, in each name
    names_swapped: float = 0.005  # forename and surname exchanged
    missing_given: float = 0.003  # no forename recorded
    barrel_part: float = 0.3  # of double-barrelled surnames: one part only, or a space
    swap_day_month: float = 0.02  # day and month transposed (where both are 12 or less)
    birth_digit: float = 0.01  # one digit of the day or month changed
    birth_year_off: float = 0.005  # the year one out
    birth_first_of_january: float = 0.003  # the 1st of January entered for an unknown date
    old_surname: float = 0.5  # of children with a previous surname, how many still under it
    old_address: float = 0.3  # of children who moved, how many at the old address here
    other_parent_address: float = 0.3  # of children with a second parent's address
    missing_nhs: float = 0.1  # no NHS number
    mistyped_nhs: float = 0.01  # the last digit one out (nearly always fails Modulus 11)
    valid_nhs_typo: float = 0.002  # a typo that still passes Modulus 11: someone else's
    sibling_nhs: float = 0.003  # a sibling's NHS number copied in
    parent_nhs: float = 0.002  # a parent's NHS number copied in
    missing_upn: float = 0.05  # no UPN
    duplicate: float = 0.02  # a second record of the child in the same source
    invalid: float = 0.02  # a record the gateway must hold for quality (a source's defects)


def record_as(
    rng: random.Random, child: Child, record_id: str, noise: Noise, defects: tuple[str, ...]
) -> Recorded:
    """One source's version of ``child``, with that source's kinds of mistakes."""
    given = _recorded_given(rng, child.given_name, noise)
    family = _recorded_family(rng, child, noise)
    if rng.random() < noise.names_swapped:
        given, family = family, given
    if rng.random() < noise.missing_given:
        given = ""
    return Recorded(
        child,
        record_id,
        given,
        family,
        _recorded_birth(rng, child.birth_date, noise),
        child.sex,
        _recorded_nhs(rng, child, noise),
        None if rng.random() < noise.missing_upn else child.upn,
        _recorded_home(rng, child, noise),
        rng.choice(defects) if defects and rng.random() < noise.invalid else None,
    )


def _recorded_given(rng: random.Random, given: str, noise: Noise) -> str:
    if given in names.NICKNAMES and rng.random() < noise.nickname:
        return names.NICKNAMES[given]
    if given in names.ALTERNATE_SPELLINGS and rng.random() < noise.alternate_spelling:
        return rng.choice(names.ALTERNATE_SPELLINGS[given])
    if rng.random() < noise.typo:
        return _typo(rng, given)
    return given


def _recorded_family(rng: random.Random, child: Child, noise: Noise) -> str:
    family = child.family_name
    if child.previous_family_name and rng.random() < noise.old_surname:
        family = child.previous_family_name
    if "-" in family and rng.random() < noise.barrel_part:
        first, second = family.split("-", 1)
        return rng.choice((first, second, f"{first} {second}"))
    if family in names.ALTERNATE_SPELLINGS and rng.random() < noise.alternate_spelling:
        return rng.choice(names.ALTERNATE_SPELLINGS[family])
    if rng.random() < noise.typo:
        return _typo(rng, family)
    return family


def _recorded_birth(rng: random.Random, birth: date, noise: Noise) -> date:
    draw = rng.random()
    if draw < noise.birth_first_of_january:
        return date(birth.year, 1, 1)
    draw -= noise.birth_first_of_january
    if draw < noise.birth_year_off:
        # Later for the oldest children: a year earlier would make them adults, which the
        # suite holds as no child's record (a defect the ground truth does not name).
        oldest = birth < REFERENCE_DATE - timedelta(days=16 * 365)
        step = 1 if oldest else rng.choice((-1, 1))
        return _valid_date(birth.year + step, birth.month, birth.day) or birth
    draw -= noise.birth_year_off
    if draw < noise.birth_digit:
        return _digit_typo(rng, birth)
    if birth.day <= 12 and birth.day != birth.month and rng.random() < noise.swap_day_month:
        return date(birth.year, birth.day, birth.month)
    return birth


def _digit_typo(rng: random.Random, birth: date) -> date:
    """One digit of the day or the month changed, to a real date (a year's digit is the year
    off by one, or a date a suite would hold as no child's)."""
    for _ in range(10):
        text = birth.strftime("%Y%m%d")
        place = rng.choice((4, 5, 6, 7))
        typed = text[:place] + rng.choice("0123456789".replace(text[place], "")) + text[place + 1 :]
        found = _valid_date(int(typed[:4]), int(typed[4:6]), int(typed[6:]))
        if found is not None and found <= REFERENCE_DATE:
            return found
    return birth


def _valid_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _recorded_nhs(rng: random.Random, child: Child, noise: Noise) -> str | None:
    if rng.random() < noise.missing_nhs:
        return None
    draw = rng.random()
    for rate, number in (
        (noise.sibling_nhs, rng.choice(child.sibling_nhs) if child.sibling_nhs else None),
        (noise.parent_nhs, child.parent_nhs),
        (noise.valid_nhs_typo, _valid_nhs_typo(rng, child.nhs_number)),
    ):
        if draw < rate and number:
            return number
        draw -= rate
    if rng.random() < noise.mistyped_nhs:
        true_nhs = child.nhs_number
        return true_nhs[:-1] + str((int(true_nhs[-1]) + 1) % 10)
    return child.nhs_number


def _valid_nhs_typo(rng: random.Random, number: str) -> str | None:
    """The number with two of its digits after the 999 prefix mistyped so that the check
    digit still passes (Modulus 11 catches every single-digit error and every swap of
    neighbours, so a typo that passes is two digits wrong): another child's number, as far as
    the check digit can tell."""
    for _ in range(60):
        first, second = sorted(rng.sample(range(3, 9), 2))
        typed = (
            number[:first]
            + rng.choice("0123456789")
            + number[first + 1 : second]
            + rng.choice("0123456789")
            + number[second + 1 : 9]
        )
        if typed != number[:9] and nhs_check_digit(typed) == int(number[9]):
            return typed + number[9]
    return None


def _recorded_home(rng: random.Random, child: Child, noise: Noise) -> Home:
    if child.previous_home and rng.random() < noise.old_address:
        return child.previous_home
    if child.other_home and rng.random() < noise.other_parent_address:
        return child.other_home
    return child.home


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
