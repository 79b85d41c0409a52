"""Named transforms that mapping files may call: each one small, pure and tested.

A transform takes the source value (and keyword args from the YAML) and returns the canonical
value. It raises ``ValueError`` with a reason that names no personal data when it cannot.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from gateway.identifiers import compact_nhs_number, compact_upn, normalise_postcode

Transform = Callable[..., Any]


class MappingValueError(ValueError):
    """A value a transform or cast cannot make canonical; the message names no value."""


TRANSFORMS: dict[str, Transform] = {}
# Transforms whose answer depends on the day the data was received (a name whose period has
# ended by then is a previous name): the mapping passes that day as ``as_of``, never today.
DATED: set[str] = set()

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
# UK Core's extension (PDS, GP Connect); CareConnect's (STU3 era, still in exports) ends in -1.
NHS_VERIFICATION_URLS = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
    "https://fhir.hl7.org.uk/STU3/StructureDefinition/Extension-CareConnect-NHSNumberVerificationStatus-1",
)
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
RESTRICTED_CODES = {"R", "V", "REDRWTD"}
ISO_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S")


def transform(name: str, *, dated: bool = False) -> Callable[[Transform], Transform]:
    def register(fn: Transform) -> Transform:
        TRANSFORMS[name] = fn
        if dated:
            DATED.add(name)
        return fn

    return register


def as_list(value: Any) -> list[Any]:
    """A repeated XML element comes as a list, a single one as a dict: always give a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def parse_date(value: Any, formats: tuple[str, ...] | list[str] = ISO_FORMATS) -> date | None:
    """A date from text in one of ``formats`` (ISO by default), None for blank."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if formats is ISO_FORMATS:
        quick = _iso_date(text)
        if quick is not None:
            return quick
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    if "T" in text or len(text) > 10:
        try:
            return datetime.fromisoformat(text).date()
        except ValueError:
            pass
    raise MappingValueError("not a date in an accepted format")


def _iso_date(text: str) -> date | None:
    """The common cases, ``YYYY-MM-DD`` and ``YYYY-MM-DDThh:mm:ss[zone]``, read by fromisoformat.

    Where strptime with ISO_FORMATS accepts such a text, fromisoformat gives the same date many
    times faster; None sends anything else (or anything fromisoformat refuses) the slow way.
    """
    if len(text) < 10 or text[4] != "-" or text[7] != "-":
        return None
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        if text[10] == "T":
            return datetime.fromisoformat(text).date()
    except ValueError:
        return None
    return None


# --- identifiers and addresses ------------------------------------------------------------


@transform("nhs_number")
def nhs_number(value: Any) -> str | None:
    return compact_nhs_number(str(value)) if value else None


@transform("upn")
def upn(value: Any) -> str | None:
    return compact_upn(str(value)) if value else None


@transform("upn_list")
def upn_list(value: Any) -> list[str]:
    return [compact_upn(str(v)) for v in as_list(value) if v]


@transform("postcode")
def postcode(value: Any) -> str | None:
    """The standard form of a valid postcode; an invalid one is kept upper-cased for validation."""
    if not value:
        return None
    return normalise_postcode(str(value)) or str(value).strip().upper()


@transform("previous_family_name")
def previous_family_name(value: Any) -> list[dict[str, str]]:
    return [{"family_name": str(v)} for v in as_list(value) if v]


@transform("address")
def address(record: dict[str, Any], lines: list[str], postcode_field: str) -> list[dict[str, Any]]:
    """One current address from flat columns (CSV, SQL)."""
    address_lines = [str(record[k]) for k in lines if record.get(k)]
    code = postcode(record.get(postcode_field))
    if not address_lines and not code:
        return []
    return [{"lines": address_lines, "postcode": code}]


@transform("ctf_addresses")
def ctf_addresses(value: Any) -> list[dict[str, Any]]:
    """CTF ``Address``: BS7666 parts (SAON, PAON, Street, Locality, Town) and ``PostCode``."""
    result = []
    for item in as_list(value):
        if not isinstance(item, dict):
            continue
        nested = item.get("BS7666Address")
        parts: dict[str, Any] = nested if isinstance(nested, dict) else item
        street = " ".join(str(parts[k]) for k in ("PAON", "Street") if parts.get(k))
        others = [str(parts[k]) for k in ("Locality", "Town", "AdministrativeArea") if parts.get(k)]
        lines = [line for line in (parts.get("SAON"), street, *others) if line]
        result.append({"lines": lines, "postcode": postcode(parts.get("PostCode"))})
    return result


# --- FHIR R4 UK Core Patient ---------------------------------------------------------------


@transform("fhir_nhs_number")
def fhir_nhs_number(identifiers: Any) -> str | None:
    for identifier in as_list(identifiers):
        if identifier.get("system") == NHS_NUMBER_SYSTEM and identifier.get("value"):
            return compact_nhs_number(str(identifier["value"]))
    return None


@transform("fhir_nhs_verification")
def fhir_nhs_verification(identifiers: Any) -> str | None:
    """The UK Core verification status code ("01".."08") of the NHS number identifier."""
    for identifier in as_list(identifiers):
        if identifier.get("system") != NHS_NUMBER_SYSTEM:
            continue
        for extension in identifier.get("extension") or []:
            if extension.get("url") in NHS_VERIFICATION_URLS:
                codings = (extension.get("valueCodeableConcept") or {}).get("coding") or []
                return next((str(c["code"]) for c in codings if c.get("code")), None)
    return None


def _official_name(names: list[dict[str, Any]], as_of: date) -> dict[str, Any] | None:
    """The current official (else usual, else any) name; if every name has ended, the latest."""
    named = [n for n in names if n.get("use") not in ("old", "maiden")]
    current = [n for n in named if _in_force(n, as_of)]
    for use in ("official", "usual", None):
        for name in current:
            if use is None or name.get("use") == use:
                return name
    return _latest_ended(named)


def _in_force(item: dict[str, Any], as_of: date) -> bool:
    """Whether a FHIR element's ``period`` holds on ``as_of``: started by then, not ended."""
    start = parse_date((item.get("period") or {}).get("start"))
    return (start is None or start <= as_of) and not _ended(item, as_of)


def _ended(item: dict[str, Any], as_of: date) -> bool:
    """Whether a FHIR element's ``period`` ended before ``as_of``."""
    end = parse_date((item.get("period") or {}).get("end"))
    return end is not None and end < as_of


def _latest_ended(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    ended = sorted(items, key=lambda n: str((n.get("period") or {}).get("end") or ""))
    return ended[-1] if ended else None


@transform("fhir_name", dated=True)
def fhir_name(names: Any, part: str, as_of: date) -> str | None:
    """The given or family part of the name current on ``as_of`` (official, else usual)."""
    name = _official_name(as_list(names), as_of)
    if name is None:
        return None
    if part == "family":
        return name.get("family")
    given = name.get("given") or []
    return " ".join(given) if given else None


@transform("fhir_previous_names", dated=True)
def fhir_previous_names(names: Any, as_of: date) -> list[dict[str, Any]]:
    """Old and maiden names, and names whose period ended before ``as_of``."""
    chosen = _official_name(as_list(names), as_of)
    result = []
    for name in as_list(names):
        if name is not chosen and (name.get("use") in ("old", "maiden") or _ended(name, as_of)):
            given = " ".join(name.get("given") or []) or None
            result.append({"given_name": given, "family_name": name.get("family")})
    return result


@transform("fhir_addresses")
def fhir_addresses(addresses: Any) -> list[dict[str, Any]]:
    result = []
    for item in as_list(addresses):
        if item.get("use") == "billing":
            continue
        period = item.get("period") or {}
        result.append(
            {
                "lines": [*item.get("line", []), *([item["city"]] if item.get("city") else [])],
                "postcode": postcode(item.get("postalCode")),
                "from_date": parse_date(period.get("start")),
                "to_date": parse_date(period.get("end")),
            }
        )
    return result


@transform("fhir_gp_ods", dated=True)
def fhir_gp_ods(practitioners: Any, as_of: date) -> str | None:
    """The ODS code of the GP practice registration current on ``as_of``; if every one has
    ended, the latest to end (PDS gives ``identifier.period`` on the registration)."""
    registrations = [
        identifier
        for reference in as_list(practitioners)
        if isinstance(identifier := reference.get("identifier"), dict)
        and identifier.get("value")
        and identifier.get("system", ODS_SYSTEM) == ODS_SYSTEM
    ]
    current = [r for r in registrations if _in_force(r, as_of)]
    chosen = current[0] if current else _latest_ended(registrations)
    return str(chosen["value"]) if chosen else None


@transform("fhir_deceased")
def fhir_deceased(record: Any) -> bool | None:
    """True if the Patient is recorded as deceased (``deceasedBoolean`` or a
    ``deceasedDateTime``), False if recorded as not, None if the source does not say."""
    if record.get("deceasedDateTime"):
        return True
    flag = record.get("deceasedBoolean")
    return flag if isinstance(flag, bool) else None


@transform("fhir_restricted")
def fhir_restricted(meta: Any) -> bool:
    """True for a PDS restricted (S-flag) or very restricted record (meta.security)."""
    labels = (meta or {}).get("security") or []
    return any(label.get("code") in RESTRICTED_CODES for label in labels)


@transform("fhir_date")
def fhir_date(value: Any) -> date | None:
    return parse_date(value)


# --- HL7 v2 ---------------------------------------------------------------------------------


def _component(repetition: list[str], index: int) -> str | None:
    value = repetition[index - 1] if len(repetition) >= index else ""
    return value.strip() or None


@transform("hl7_nhs_number")
def hl7_nhs_number(pid3: Any) -> str | None:
    """The NHS number in PID-3: type code NH, or the ITK form ``n^^^NHS`` with no type code."""
    for rep in as_list(pid3):
        authority = (_component(rep, 4) or "").split("&")[0].upper()
        if _component(rep, 5) == "NH" or authority in ("NHS", "NHSNBR"):
            value = _component(rep, 1)
            return compact_nhs_number(value) if value else None
    return None


@transform("hl7_local_id")
def hl7_local_id(pid3: Any) -> str | None:
    """The patient's id in the sending system: the first PID-3 that is not the NHS number."""
    reps = as_list(pid3)
    nhs = hl7_nhs_number(reps)
    for rep in reps:
        value = _component(rep, 1)
        if value and compact_nhs_number(value) != nhs:
            return value
    return f"NHS{nhs}" if nhs else None


@transform("hl7_component")
def hl7_component(field: Any, index: int = 1) -> str | None:
    reps = as_list(field)
    return _component(reps[0], index) if reps else None


@transform("hl7_date")
def hl7_date(field: Any) -> date | None:
    """An HL7 TS/DT (YYYYMMDD[HHMM[SS]][+ZZZZ]) as a date."""
    raw = hl7_component(field)
    if not raw:
        return None
    day = raw[:8]
    if len(day) == 8 and day.isascii() and day.isdigit():  # YYYYMMDD: no strptime (slow)
        try:
            return date(int(day[:4]), int(day[4:6]), int(day[6:]))
        except ValueError:
            raise MappingValueError("not a date in an accepted format") from None
    return parse_date(day, ["%Y%m%d"])


@transform("hl7_sex")
def hl7_sex(field: Any) -> str | None:
    code = (hl7_component(field) or "").upper()
    return {
        "F": "female",
        "M": "male",
        "U": "unknown",
        "O": "unknown",
        "1": "male",
        "2": "female",
    }.get(code)


@transform("hl7_addresses")
def hl7_addresses(pid11: Any) -> list[dict[str, Any]]:
    result = []
    for rep in as_list(pid11):
        lines = [c for c in (_component(rep, i) for i in (1, 2, 3, 4)) if c]
        code = _component(rep, 5)
        if lines or code:
            result.append({"lines": lines, "postcode": postcode(code)})
    return result


# --- register, census and case-management facts -------------------------------------------


@transform("register_entries")
def register_entries(
    record: dict[str, Any],
    *,
    kind: str,
    type_column: str,
    start_column: str,
    end_column: str,
    date_formats: list[str],
    reason_column: str | None = None,
) -> list[dict[str, Any]]:
    """An EHE or CME list row as one registration (``kind`` says which rows count)."""
    if str(record.get(type_column) or "").upper() != kind.upper():
        return []
    start = parse_date(record.get(start_column), date_formats)
    end = parse_date(record.get(end_column), date_formats)
    if kind.upper() == "EHE":
        reason = record.get(reason_column) if reason_column else None
        return [{"registered_on": start, "deregistered_on": end, "deregistration_reason": reason}]
    return [{"reported_on": start, "resolved_on": end}]


# The census's sex codes: GenderCurrent (to 2023-24) 1 male, 2 female, 0 not known,
# 9 not stated; Sex (2024-25 on) M, F, U (unborn or not known). Published files mix them.
CIN_SEX = {"1": "male", "2": "female", "0": "unknown", "9": "unknown"} | {
    "M": "male",
    "F": "female",
    "U": "unknown",
}


@transform("cin_sex")
def cin_sex(identifiers: Any) -> str | None:
    """The child's sex from CIN census ``ChildIdentifiers``: ``Sex`` (2024-25 on), else
    ``GenderCurrent`` (the element before it); either element's codes are read."""
    if not isinstance(identifiers, dict):
        return None
    code = identifiers.get("Sex") or identifiers.get("GenderCurrent")
    if code is None:
        return None
    sex = CIN_SEX.get(str(code).strip().upper())
    if sex is None:
        raise MappingValueError("sex code not in the census's code lists")
    return sex


@transform("dated_means_true")
def dated_means_true(value: Any) -> bool | None:
    """True where a date is recorded (CIN ``PersonDeathDate``: the child has died), else None
    (the source does not say)."""
    return True if value else None


@transform("cin_episodes")
def cin_episodes(details: Any, kind: str) -> list[dict[str, Any]]:
    """Referrals, child-in-need plans or child protection plans from CIN census ``CINdetails``."""
    result: list[dict[str, Any]] = []
    for detail in as_list(details):
        if kind == "referral":
            result.append(
                {
                    "start_date": parse_date(detail.get("CINreferralDate")),
                    "end_date": parse_date(detail.get("CINclosureDate")),
                    "reason": detail.get("ReferralSource"),
                }
            )
        elif kind == "cin_plan":
            for plan in as_list(detail.get("CINPlanDates")):
                result.append(_span(plan, "CINPlanStartDate", "CINPlanEndDate"))
        elif kind == "cp_plan":
            for plan in as_list(detail.get("ChildProtectionPlans")):
                result.append(_span(plan, "CPPstartDate", "CPPendDate"))
        else:
            raise MappingValueError(f"unknown CIN episode kind {kind!r}")
    return result


def _span(item: dict[str, Any], start: str, end: str) -> dict[str, Any]:
    return {"start_date": parse_date(item.get(start)), "end_date": parse_date(item.get(end))}


@transform("case_episodes")
def case_episodes(involvements: Any, kind: str) -> list[dict[str, Any]]:
    """Involvements of one kind (referral, cin, cpp, lac) from the case-management extract."""
    return [
        {"start_date": parse_date(i.get("start_date")), "end_date": parse_date(i.get("end_date"))}
        for i in as_list(involvements)
        if i.get("kind") == kind
    ]


@transform("lead_team")
def lead_team(involvements: Any) -> str | None:
    """The team of the most recent open involvement, else of the most recent one."""
    items = sorted(as_list(involvements), key=lambda i: str(i.get("start_date") or ""))
    open_items = [i for i in items if not i.get("end_date")]
    chosen = (open_items or items)[-1:] if items else []
    return chosen[0].get("team") if chosen else None


@transform("ssda903_upn")
def ssda903_upn(value: Any) -> str | None:
    """A UPN, or None for the return's "no UPN" reason codes UN1 to UN10."""
    text = str(value or "").strip().upper()
    if re.fullmatch(r"UN(10|[1-9])", text):
        return None
    return upn(text)


@transform("looked_after_periods")
def looked_after_periods(episodes: Any, date_formats: list[str]) -> list[dict[str, Any]]:
    """SSDA903 episodes joined into periods of care: an episode that starts the day the one
    before it ended continues the same period; the period ends when its last episode does."""
    spans = sorted(
        (
            (parse_date(e.get("DECOM"), date_formats), parse_date(e.get("DEC"), date_formats))
            for e in as_list(episodes)
            if isinstance(e, dict)
        ),
        key=lambda span: span[0] or date.min,
    )
    periods: list[dict[str, Any]] = []
    for start, end in spans:
        if start is None:
            raise MappingValueError("an SSDA903 episode without a start date (DECOM)")
        if periods and periods[-1]["end_date"] == start:
            periods[-1]["end_date"] = end
        else:
            periods.append({"start_date": start, "end_date": end})
    return periods


# --- Contacts (gateway.model.contact): real events with the child, never administrative times --

# ADT trigger events that are a contact with the child, and where each says the day: the
# admit (PV1-44) or discharge (PV1-45) time, else when the event occurred (EVN-6), else when
# it was recorded (EVN-2). A05 (pre-admit: a booking), A08/A28/A31 (updates) and merges are
# never contacts.
HL7_CONTACTS = {
    "A01": ("hospital admission", ("PV1-44", "EVN-6", "EVN-2")),
    "A03": ("hospital discharge", ("PV1-45", "EVN-6", "EVN-2")),
    "A04": ("attended appointment", ("EVN-6", "EVN-2")),
}


def _contacts(kind: str, days: Any) -> list[dict[str, Any]]:
    return [{"kind": kind, "on": day} for day in sorted(set(days)) if day is not None]


@transform("hl7_contacts")
def hl7_contacts(message: Any) -> list[dict[str, Any]]:
    """The contact an ADT message records (A01, A03, A04), or none."""
    trigger = hl7_component(message.get("MSH-9"), 2)
    if trigger not in HL7_CONTACTS:
        return []
    kind, fields = HL7_CONTACTS[trigger]
    for name in fields:
        day = hl7_date(message.get(name))
        if day is not None:
            return _contacts(kind, [day])
    return []


@transform("fhir_encounter_contacts")
def fhir_encounter_contacts(encounter: Any) -> list[dict[str, Any]]:
    """The latest finished Encounter or fulfilled Appointment the FHIR API connector folded in
    (``ehe_last_encounter``)."""
    status = (encounter or {}).get("status")
    kinds = {"finished": "finished encounter", "fulfilled": "attended appointment"}
    if status not in kinds:
        return []
    return _contacts(kinds[status], [parse_date(encounter.get("date"))])


# Case-management involvements that are contacts, and their kind in words.
CASE_CONTACTS = {
    "visit": "social work visit",
    "home_visit": "home visit",
    "assessment": "assessment",
    "review": "plan review",
}


@transform("case_contacts")
def case_contacts(involvements: Any) -> list[dict[str, Any]]:
    """Visits, assessments and plan reviews in the case-management extract (their start date is
    the day they happened); every other involvement is an episode, not a contact."""
    found: list[dict[str, Any]] = []
    for kind, words in CASE_CONTACTS.items():
        days = [parse_date(i.get("start_date")) for i in as_list(involvements)]
        kinds = [i.get("kind") for i in as_list(involvements)]
        found += _contacts(words, [d for d, k in zip(days, kinds, strict=True) if k == kind])
    return found


@transform("cin_contacts")
def cin_contacts(details: Any) -> list[dict[str, Any]]:
    """Assessments (their actual start) and child protection plan reviews in CIN ``CINdetails``."""
    assessed: list[date | None] = []
    reviewed: list[date | None] = []
    for detail in as_list(details):
        for assessment in as_list(detail.get("Assessments")):
            assessed.append(parse_date(assessment.get("AssessmentActualStartDate")))
        for plan in as_list(detail.get("ChildProtectionPlans")):
            for review in as_list(plan.get("Reviews")):
                reviewed += [parse_date(d) for d in as_list(review.get("CPPreviewDate"))]
    return _contacts("assessment", assessed) + _contacts("plan review", reviewed)


@transform("dated_contact")
def dated_contact(value: Any, kind: str, date_formats: list[str] | None = None) -> list[Any]:
    """A contact of ``kind`` on the day in ``value`` (a removal date: the last day on roll)."""
    return _contacts(kind, [parse_date(value, date_formats or ISO_FORMATS)])


@transform("ctf_contacts")
def ctf_contacts(schools: Any) -> list[dict[str, Any]]:
    """The last day on roll of each school in a CTF's school history (``LeavingDate``)."""
    days = [parse_date(school.get("LeavingDate")) for school in as_list(schools)]
    return _contacts("last day on roll", days)
