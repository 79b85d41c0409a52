"""Writers: the synthetic population in each agency's real format."""

from __future__ import annotations

import csv
import json
import sqlite3
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ElementTree, SubElement, indent

from gateway.synth.contacts import Event, census_events, left_roll_on
from gateway.synth.population import LA_CODE, REFERENCE_DATE, Recorded

# Each child's events (``gateway.synth.contacts.history``), by child key.
Histories = dict[str, list[Event]]

SEX_CTF = {"female": "F", "male": "M"}
SEX_CIN = {"female": "2", "male": "1"}


def _iso(value: date | None) -> str:
    return value.isoformat() if value else ""


def _sub(parent: Element, tag: str, text: str | None) -> Element:
    element = SubElement(parent, tag)
    if text:
        element.text = text
    return element


def write_ctf(path: Path, records: list[Recorded]) -> None:
    """A Common Transfer File from the LA's schools: pupils removed from roll."""
    root = Element("CTfile")
    header = SubElement(root, "Header")
    _sub(header, "DocumentName", "Common Transfer File")
    _sub(header, "CTFversion", "26.0")
    _sub(header, "DateTime", datetime.combine(REFERENCE_DATE, time(9)).isoformat())
    _sub(header, "DocumentQualifier", "partial")
    source = SubElement(header, "SourceSchool")
    _sub(source, "LEA", LA_CODE)
    _sub(source, "Estab", "2001")
    _sub(source, "SchoolName", "Synthetic Schools Federation")
    _sub(source, "AcademicYear", "2026")
    dest = SubElement(header, "DestSchool")
    _sub(dest, "LEA", LA_CODE)
    _sub(dest, "Estab", "MMM")
    pupils = SubElement(root, "CTFpupilData")
    for r in records:
        pupil = SubElement(pupils, "Pupil")
        _sub(pupil, "UPN", r.upn or r.child.upn)
        _sub(pupil, "Surname", r.family_name)
        _sub(pupil, "Forename", r.given_name)
        if r.child.previous_family_name and r.family_name != r.child.previous_family_name:
            _sub(pupil, "FormerSurname", r.child.previous_family_name)
        _sub(pupil, "DOB", "" if r.defect == "missing_birth_date" else _iso(r.birth_date))
        _sub(pupil, "Sex", "X" if r.defect == "bad_sex_code" else SEX_CTF.get(r.sex or "", ""))
        if r.nhs_number:
            _sub(pupil, "NHSnumber", r.nhs_number)
        address = SubElement(SubElement(pupil, "Address"), "BS7666Address")
        _sub(address, "PAON", r.home.lines[0].split(" ", 1)[0])
        _sub(address, "Street", r.home.lines[0].split(" ", 1)[1])
        _sub(address, "Town", r.home.lines[1])
        _sub(address, "PostCode", r.home.postcode)
        school = SubElement(SubElement(pupil, "SchoolHistory"), "School")
        _sub(school, "LEA", LA_CODE)
        _sub(school, "Estab", r.child.school[0])
        _sub(school, "SchoolName", r.child.school[1])
        left = left_roll_on(r.child)
        # Reception at four, but never after leaving (the suite holds left-before-joined).
        entry = min(
            r.child.birth_date.replace(year=r.child.birth_date.year + 4, month=9, day=1), left
        )
        _sub(school, "EntryDate", entry.isoformat())
        _sub(school, "LeavingDate", left.isoformat())
        reason = "EHE" if r.child.ehe else ("UNKNOWN" if r.child.cme else "MOVED")
        _sub(school, "LeavingReason", reason)
    indent(root)
    ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


EHE_COLUMNS = [
    "ChildRef",
    "UPN",
    "Forename",
    "Surname",
    "DOB",
    "Gender",
    "AddressLine1",
    "Town",
    "Postcode",
    "Register",
    "StartDate",
    "EndDate",
    "EndReason",
]


def registered_on(record_id: str) -> date:
    """The day the register row says the child was registered (EHE) or reported (CME)."""
    return REFERENCE_DATE - timedelta(days=20 + int(record_id[-3:]) % 300)


def write_ehe_register(path: Path, records: list[Recorded]) -> None:
    """The LA's EHE register and CME list as one CSV export (dates as dd/mm/yyyy)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(EHE_COLUMNS)
        for r in records:
            start = registered_on(r.record_id)
            dob = r.birth_date.strftime("%d/%m/%Y") if r.birth_date else ""
            if r.defect == "impossible_date" and r.birth_date:
                dob = f"31/02/{r.birth_date.year}"
            row = [
                r.record_id,
                r.upn or "",
                r.given_name,
                r.family_name,
                dob,
                SEX_CTF.get(r.sex or "", ""),
                r.home.lines[0],
                r.home.lines[1],
                r.home.postcode,
                "EHE" if r.child.ehe else "CME",
                start.strftime("%d/%m/%Y"),
                "",
                "",
            ]
            if r.defect == "ragged_row":
                row = row[:5]
            writer.writerow(row)


def fhir_patient(r: Recorded) -> dict[str, Any]:
    """A UK Core Patient resource."""
    identifiers: list[dict[str, Any]] = []
    if r.nhs_number:
        identifiers.append(
            {
                "system": "https://fhir.nhs.uk/Id/nhs-number",
                "value": r.nhs_number,
                "extension": [
                    {
                        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus",
                                    "code": "01",
                                    "display": "Number present and verified",
                                }
                            ]
                        },
                    }
                ],
            }
        )
    given = [r.given_name] if r.given_name else []  # FHIR has no empty strings
    names = [{"use": "official", "family": r.family_name, "given": given}]
    if r.child.previous_family_name and r.family_name != r.child.previous_family_name:
        names.append({"use": "old", "family": r.child.previous_family_name, "given": given})
    birth = r.birth_date
    if r.defect == "future_birth_date":
        birth = REFERENCE_DATE + timedelta(days=400)
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": r.record_id,
        "meta": {"versionId": "1", "lastUpdated": f"{REFERENCE_DATE.isoformat()}T08:00:00+00:00"},
        "identifier": identifiers,
        "name": names,
        "gender": r.sex,
        "birthDate": _iso(birth),
        "address": [
            {
                "use": "home",
                "line": [r.home.lines[0]],
                "city": r.home.lines[1],
                "postalCode": r.home.postcode,
            }
        ],
        "generalPractitioner": [
            {
                "type": "Organization",
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": r.child.gp_practice,
                },
            }
        ],
    }
    if not patient["identifier"]:
        del patient["identifier"]
    if r.child.restricted:
        patient["meta"]["security"] = [
            {
                "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                "code": "R",
                "display": "restricted",
            }
        ]
        del patient["address"]
    return patient


def write_fhir_ndjson(path: Path, records: list[Recorded]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for r in records:
            if r.defect == "not_json":
                handle.write('{"resourceType": "Patient", "id": "' + r.record_id + '", "name": [\n')
                continue
            handle.write(json.dumps(fhir_patient(r), separators=(",", ":")) + "\n")


def adt_message(r: Recorded, number: int, event: str, on: date | None = None) -> str:
    """An NHS ITK-style HL7 v2.4 ADT message (sent on the day ``on``, if given)."""
    sent = datetime.combine(on, time(10)) if on else datetime.combine(REFERENCE_DATE, time(8))
    stamp = (sent - timedelta(hours=0 if on else number)).strftime("%Y%m%d%H%M")
    pid3 = f"{r.record_id}^^^RCB^PI"
    if r.nhs_number:
        pid3 += f"~{r.nhs_number}^^^NHS^NH"
    birth = r.birth_date.strftime("%Y%m%d") if r.birth_date else ""
    sex = {"female": "F", "male": "M"}.get(r.sex or "", "U")
    address = f"{r.home.lines[0]}^^{r.home.lines[1]}^^{r.home.postcode}^GBR^H"
    structure = "ADT_A05" if event == "A28" else "ADT_A01"
    segments = [
        f"MSH|^~\\&|PAS|RCB|EHEGW|LA815|{stamp}||ADT^{event}^{structure}|MSG{number:08d}|P|2.4|||AL|NE|GBR",
        f"EVN|{event}|{stamp}",
        f"PID|1||{pid3}||{r.family_name}^{r.given_name}||{birth}|{sex}|||{address}",
        f"PD1|||^^{r.child.gp_practice}",
        _pv1(event, stamp),
    ]
    if r.defect == "truncated_message":
        return segments[0][:30]
    return "\r".join(segments)


def _pv1(event: str, stamp: str) -> str:
    """The visit: outpatient, or inpatient with the admit (PV1-44) or discharge (PV1-45) time."""
    if event == "A01":
        return "PV1|1|I" + "|" * 42 + stamp
    if event == "A03":
        return "PV1|1|I" + "|" * 43 + stamp
    return "PV1|1|O"


def write_adt(path: Path, records: list[Recorded], histories: Histories) -> dict[str, int]:
    """Each patient's messages in the order they were sent: registration, bookings,
    attendances, admissions and discharges, updates. A record with a defect is one
    truncated message. Returns how many messages each record id has."""
    number = 0
    sent: dict[str, int] = {}
    with path.open("w", encoding="utf-8", newline="") as handle:
        for r in records:
            events = [e for e in histories.get(r.child.key, []) if e.agency == "health"]
            for event in events if r.defect is None else events[:1]:
                number += 1
                sent[r.record_id] = sent.get(r.record_id, 0) + 1
                handle.write(adt_message(r, number, event.code, event.on) + "\r\n")
    return sent


def write_case_db(path: Path, records: list[Recorded], histories: Histories) -> None:
    """A small case-management database (SQLite) in the shape the SQL connector reads."""
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE person (person_id TEXT PRIMARY KEY, forename TEXT, surname TEXT,
            former_surname TEXT, dob TEXT, gender TEXT, nhs_number TEXT, upn TEXT,
            address_line1 TEXT, town TEXT, postcode TEXT, restricted_flag INTEGER,
            updated_at TEXT NOT NULL);
        CREATE TABLE involvement (involvement_id INTEGER PRIMARY KEY, person_id TEXT NOT NULL
            REFERENCES person(person_id), kind TEXT NOT NULL, start_date TEXT, end_date TEXT,
            team TEXT, updated_at TEXT NOT NULL);
        """
    )
    stamp = f"{REFERENCE_DATE.isoformat()}T07:00:00"
    for r in records:
        former = (
            r.child.previous_family_name if r.family_name != r.child.previous_family_name else None
        )
        db.execute(
            "INSERT INTO person VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                r.record_id,
                r.given_name,
                r.family_name,
                former,
                None if r.defect == "missing_birth_date" else _iso(r.birth_date),
                {"female": "F", "male": "M"}.get(r.sex or "", "U"),
                r.nhs_number,
                r.upn,
                r.home.lines[0],
                r.home.lines[1],
                r.home.postcode,
                int(r.child.restricted),
                stamp,
            ),
        )
        for kind, start, end, team in r.child.episodes:
            db.execute(
                "INSERT INTO involvement (person_id, kind, start_date, end_date, team, updated_at)"
                " VALUES (?,?,?,?,?,?)",
                (r.record_id, kind, _iso(start), _iso(end) or None, team, stamp),
            )
        lead = r.child.episodes[-1][3] if r.child.episodes else None
        for event in histories.get(r.child.key, []):
            if event.agency != "social_care":
                continue
            db.execute(
                "INSERT INTO involvement (person_id, kind, start_date, end_date, team, updated_at)"
                " VALUES (?,?,?,?,?,?)",
                (r.record_id, event.code, _iso(event.on), _iso(event.on), lead, stamp),
            )
    db.commit()
    db.close()


def write_cin_census(path: Path, records: list[Recorded], histories: Histories) -> None:
    """The DfE Children in Need census return (no names: the census carries none)."""
    root = Element("Message")
    header = SubElement(root, "Header")
    collection = SubElement(header, "CollectionDetails")
    _sub(collection, "Collection", "CIN")
    _sub(collection, "Year", "2026")
    _sub(collection, "ReferenceDate", "2026-03-31")
    source = SubElement(header, "Source")
    _sub(source, "SourceLevel", "L")
    _sub(source, "LEA", LA_CODE)
    children = SubElement(root, "Children")
    for r in records:
        child = SubElement(children, "Child")
        ids = SubElement(child, "ChildIdentifiers")
        _sub(ids, "LAchildID", r.record_id)
        _sub(ids, "UPN", r.upn)
        _sub(ids, "PersonBirthDate", "" if r.defect == "missing_birth_date" else _iso(r.birth_date))
        _sub(ids, "GenderCurrent", SEX_CIN.get(r.sex or "", "0"))
        _cin_details(
            SubElement(child, "CINdetails"), r, census_events(histories.get(r.child.key, []))
        )
    indent(root)
    ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _cin_details(details: Element, r: Recorded, contacts: list[Event]) -> None:
    """A child's referral, assessments, plans and plan reviews in the census."""
    for kind, start, end, _team in r.child.episodes:
        if kind == "referral":
            _sub(details, "CINreferralDate", _iso(start))
            _sub(details, "ReferralSource", "1A")
            if end:
                _sub(details, "CINclosureDate", _iso(end))
            for event in (e for e in contacts if e.code == "assessment"):
                assessment = SubElement(details, "Assessments")
                _sub(assessment, "AssessmentActualStartDate", _iso(event.on))
        elif kind == "cin":
            plan = SubElement(details, "CINPlanDates")
            _sub(plan, "CINPlanStartDate", _iso(start))
            if end:
                _sub(plan, "CINPlanEndDate", _iso(end))
        elif kind == "cpp":
            plan = SubElement(details, "ChildProtectionPlans")
            _sub(plan, "CPPstartDate", _iso(start))
            if end:
                _sub(plan, "CPPendDate", _iso(end))
            for event in (e for e in contacts if e.code == "review"):
                _sub(SubElement(plan, "Reviews"), "CPPreviewDate", _iso(event.on))


def _dmy(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def write_ssda903(path: Path, records: list[Recorded]) -> None:
    """The SSDA903 looked-after children return as XML: each child's header and episodes."""
    root = Element("EXPSSDA903")
    for r in records:
        child = SubElement(root, "CHILD")
        header = SubElement(child, "HEADER")
        _sub(header, "CHILDID", r.record_id)
        _sub(header, "UPN", r.upn or "UN1")
        _sub(header, "SEX", SEX_CIN.get(r.sex or "", ""))
        _sub(header, "DOB", _dmy(r.birth_date))
        _sub(header, "ETHNIC", "NOBT")
        for kind, start, end, _team in r.child.episodes:
            if kind != "lac":
                continue
            episode = SubElement(child, "EPISODE")
            _sub(episode, "DECOM", _dmy(start))
            _sub(episode, "RNE", "S")
            _sub(episode, "LS", "C2")
            _sub(episode, "PL", "U1")
            _sub(episode, "DEC", _dmy(end))
    indent(root)
    ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


REMOVAL_COLUMNS = [
    "NotificationRef",
    "SchoolLAEstab",
    "SchoolName",
    "UPN",
    "Forename",
    "Surname",
    "DOB",
    "Gender",
    "AddressLine1",
    "Town",
    "Postcode",
    "DateRemoved",
    "RemovalGround",
    "Destination",
]


def write_removals_from_roll(path: Path, records: list[Recorded]) -> None:
    """Schools' removal-from-roll notifications as the LA portal exports them (CSV)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REMOVAL_COLUMNS)
        for r in records:
            estab, school_name = r.child.school
            removed = left_roll_on(r.child)
            ground = "EHE" if r.child.ehe else "CME" if r.child.cme else "MOVED"
            writer.writerow(
                [
                    r.record_id,
                    f"{LA_CODE}{estab}",
                    school_name,
                    r.upn or "",
                    r.given_name,
                    r.family_name,
                    _dmy(r.birth_date),
                    SEX_CTF.get(r.sex or "", ""),
                    r.home.lines[0],
                    r.home.lines[1],
                    r.home.postcode,
                    removed.strftime("%d/%m/%Y"),
                    ground,
                    "Home education" if ground == "EHE" else "",
                ]
            )
