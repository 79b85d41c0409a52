"""FHIR R4 REST API: Patients, and the Encounters and Appointments that show when a child was
last seen (a finished Encounter, a fulfilled Appointment).

``extract`` searches Patient, Encounter and Appointment by ``_lastUpdated`` from the bookmark on,
pages through the searchset Bundles, fetches the Patient of any Encounter (or Appointment) whose
Patient did not change,
and writes everything it read as one NDJSON file for landing. The bookmark it returns is the
latest ``meta.lastUpdated`` it saw and the versions it read at that instant
(``{"at": ..., "seen": ["Patient/p1/_history/2", ...]}``). The search is inclusive (``ge``), so
a resource the server stamps with the same instant just after our read is not missed, and the
versions already read at that instant are left out, so nothing lands twice. A plain instant
(the older bookmark form) is read as that instant with nothing seen. If anything fails, nothing
is returned and the bookmark stays.

``parse`` reads a landed file back: every resource is validated with ``fhir.resources.R4B``;
each Patient is yielded as the FHIR JSON received, with the latest real contact from its
Encounters under ``ehe_last_encounter`` (date, class, status; never the reason or any clinical
detail). An Encounter whose Patient is not in the file is kept as a rejected item.

Config: ``url`` (the FHIR base), ``token_url``, ``client_id`` and ``client_secret`` (secret:
from the environment or an Airflow Connection only); optional ``page_size``, ``timeout_s``,
``attempts``, ``backoff_s``, ``max_delay_s``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ValidationError

from connectors.base import Connector, Extracted, Extraction, Stream
from connectors.health.fhir_http import ClientCredentials, FhirClient, RetryPolicy
from connectors.health.fhir_patients import validate_patient
from gateway.errors import FatalConfigError

CONTACT_KEY = "ehe_last_encounter"
# Encounters and Appointments that show a child was seen: a finished Encounter (with its
# period) or a fulfilled Appointment; never one planned, booked, cancelled, missed (noshow),
# entered in error, nor one still under way whose end is not known.
CONTACT_STATUSES = frozenset({"finished", "fulfilled"})
CONTACT_RESOURCES = ("Encounter", "Appointment")
SCHEMA = {
    "type": "object",
    "required": ["resourceType", "id"],
    "properties": {
        "resourceType": {"const": "Patient"},
        "id": {"type": "string"},
        CONTACT_KEY: {
            "type": "object",
            "properties": {
                "date": {"type": "string"},
                "class": {"type": ["string", "null"]},
                "status": {"type": "string"},
                "encounters": {"type": "integer"},
            },
        },
    },
}
ENCOUNTER_SCHEMA = {"type": "object", "required": ["resourceType", "id", "subject"]}
SETTINGS = ("url", "token_url", "client_id", "client_secret")
TUNING = ("page_size", "timeout_s", "attempts", "backoff_s", "max_delay_s")


class FhirRestConnector(Connector):
    source = "health__fhir_api"
    agency = "health"
    schedule = "@hourly"
    in_demo = False
    description = "FHIR R4 REST API: Patient and Encounter, incremental by _lastUpdated (OAuth2)"
    stream = Stream(
        "patients", primary_key=("id",), bookmark_field="meta.lastUpdated", schema=SCHEMA
    )
    encounter_stream = Stream(
        "encounters",
        primary_key=("id",),
        bookmark_field="meta.lastUpdated",
        schema=ENCOUNTER_SCHEMA,
    )
    secret_fields = ("client_secret",)
    # Read from EHE_SOURCE_HEALTH__FHIR_API_<KEY>; checked when the server is used, so that a
    # landed batch can be parsed again without the server's settings.
    env_config: ClassVar[tuple[str, ...]] = (*SETTINGS, *TUNING)

    def discover(self) -> list[Stream]:
        return [self.stream, self.encounter_stream]

    def check(self) -> None:
        with self._client() as client:
            statement = client.capabilities()
        if statement.get("resourceType") != "CapabilityStatement":
            raise FatalConfigError(f"{self.source}: {self.config['url']} is not a FHIR server")

    def extract(self, work_dir: Path, bookmark: str | None) -> Extraction:
        params = {"_count": str(self.config.get("page_size", 100)), "_sort": "_lastUpdated"}
        since, seen = read_high_water(bookmark)
        if since:
            params["_lastUpdated"] = f"ge{since}"

        def unseen(resources: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
            return (r for r in resources if _version(r) not in seen)

        with self._client() as client:
            # Keyed by id, so a Patient met on two pages (changed while paging) lands once;
            # one without an id is kept too, and held by parse with that reason.
            patients = {
                r.get("id") or f"#{n}": r
                for n, r in enumerate(unseen(client.search("Patient", params)))
            }
            encounters = list(unseen(client.search("Encounter", params)))
            encounters += unseen(client.search("Appointment", params))
            for patient_id in sorted(_subjects(encounters) - patients.keys()):
                found = client.read("Patient", patient_id)
                if found is not None:
                    patients[patient_id] = found
        resources = [*patients.values(), *encounters]
        if not resources:
            return Extraction(files=[], bookmark=bookmark)
        return Extraction(
            files=[_write(work_dir, resources)], bookmark=_high_water(resources, bookmark)
        )

    def parse(self, path: Path) -> Iterator[Extracted]:
        contacts, encounters, invalid = _encounters(path)
        seen: set[str] = set()
        for position, line in _lines(path):
            if position in invalid:
                yield Extracted(position, error=invalid[position], raw=line)
                continue
            if position in encounters:
                continue
            item = validate_patient(line, position)
            if item.record is not None:
                seen.add(item.record["id"])
                contact = contacts.get(item.record["id"])
                if contact:
                    item.record[CONTACT_KEY] = contact
            yield item
        for position, (line, subject) in encounters.items():
            if subject not in seen:
                yield Extracted(
                    position,
                    error="Encounter or Appointment for a Patient not in this batch",
                    raw=line,
                )

    def _client(self) -> FhirClient:
        missing = [key for key in SETTINGS if not self.config.get(key)]
        if missing:
            raise FatalConfigError(f"{self.source}: missing config {', '.join(missing)}")
        policy = RetryPolicy(
            attempts=int(self.config.get("attempts", 5)),
            base_s=float(self.config.get("backoff_s", 0.5)),
            max_delay_s=float(self.config.get("max_delay_s", 30)),
            timeout_s=float(self.config.get("timeout_s", 30)),
        )
        credentials = ClientCredentials(
            self.config["token_url"], self.config["client_id"], self.config["client_secret"]
        )
        return FhirClient(self.config["url"], credentials, policy, source=self.source)


def _encounters(
    path: Path,
) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[str, str]], dict[str, str]]:
    """The latest contact per Patient id; each valid Encounter's line and Patient id, by
    position; and the reason each invalid Encounter was refused, by position."""
    contacts: dict[str, dict[str, Any]] = {}
    valid: dict[str, tuple[str, str]] = {}
    invalid: dict[str, str] = {}
    from fhir.resources.R4B.appointment import Appointment  # on first use, not when listed
    from fhir.resources.R4B.encounter import Encounter

    for position, line in _lines(path):
        kind = _resource_type(line)
        if kind not in CONTACT_RESOURCES:
            continue
        try:
            (Encounter if kind == "Encounter" else Appointment).model_validate_json(line)
        except ValidationError as exc:
            invalid[position] = _fhir_error(str(kind), exc)
            continue
        encounter = json.loads(line)
        subject = _subject(encounter)
        valid[position] = (line, subject or "")
        if subject:
            _fold_contact(contacts, subject, encounter)
    return contacts, valid, invalid


def _fhir_error(kind: str, exc: ValidationError) -> str:
    """The paths and kinds of the first problems, never the offending values."""
    parts = [
        f"{'.'.join(str(p) for p in e['loc'])}: {e['type']}" if e["loc"] else e["type"]
        for e in exc.errors()[:3]
    ]
    return f"invalid FHIR {kind} (" + "; ".join(parts) + ")"


def _lines(path: Path) -> Iterator[tuple[str, str]]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield f"{path.name} line {number}", line


def _resource_type(line: str) -> str | None:
    """The resourceType of one NDJSON line, without validating it (None if unreadable)."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return None
    return value.get("resourceType") if isinstance(value, dict) else None


def _patient_id(reference: Any) -> str | None:
    """``Patient/123`` or ``https://server/fhir/Patient/123`` (with or without _history)."""
    if not isinstance(reference, str) or "Patient/" not in reference:
        return None
    tail = reference.rsplit("Patient/", 1)[1]
    return tail.split("/", 1)[0] or None


def _subject(resource: dict[str, Any]) -> str | None:
    """The Patient an Encounter is about (``subject``), or who attended an Appointment (the
    participant whose actor is a Patient)."""
    if resource.get("resourceType") == "Appointment":
        actors = (p.get("actor") or {} for p in resource.get("participant") or [])
        return next((i for i in (_patient_id(a.get("reference")) for a in actors) if i), None)
    return _patient_id((resource.get("subject") or {}).get("reference"))


def _subjects(encounters: list[dict[str, Any]]) -> set[str]:
    return {patient_id for patient_id in map(_subject, encounters) if patient_id}


def _fold_contact(
    contacts: dict[str, dict[str, Any]], subject: str, encounter: dict[str, Any]
) -> None:
    """Keep the latest real contact of a Patient: the date, the class and how many there were."""
    if encounter.get("status") not in CONTACT_STATUSES:
        return
    period = encounter.get("period") or encounter  # an Appointment has start and end itself
    when = period.get("end") or period.get("start")
    if not when:
        return
    current = contacts.get(subject)
    count = (current or {}).get("encounters", 0) + 1
    if current is None or str(when) > str(current["date"]):
        klass = (encounter.get("class") or {}).get("code")
        current = {"date": when, "class": klass, "status": encounter["status"]}
    contacts[subject] = {**current, "encounters": count}


def _write(work_dir: Path, resources: list[dict[str, Any]]) -> Path:
    """Write the resources read as NDJSON, atomically (a failed run leaves no file)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
    target = work_dir / f"fhir_api_{stamp}.ndjson"
    partial = target.with_suffix(".partial")
    with partial.open("w", encoding="utf-8") as handle:
        for resource in resources:
            handle.write(json.dumps(resource, separators=(",", ":"), ensure_ascii=False) + "\n")
    partial.replace(target)
    return target


def read_high_water(bookmark: str | None) -> tuple[str | None, frozenset[str]]:
    """The bookmark's instant and the resource versions already read at that instant."""
    if not bookmark:
        return None, frozenset()
    if not bookmark.startswith("{"):
        return bookmark, frozenset()  # the older form: an instant alone
    try:
        held = json.loads(bookmark)
        return str(held["at"]), frozenset(str(v) for v in held.get("seen", []))
    except (ValueError, KeyError, TypeError) as exc:
        raise FatalConfigError("health__fhir_api: the saved bookmark is not readable") from exc


def _high_water(resources: list[dict[str, Any]], bookmark: str | None) -> str | None:
    """The latest ``meta.lastUpdated`` among the resources read, with the versions read at it.

    With nothing newer than the old bookmark, the old bookmark's versions at its instant are
    kept and joined by any read at the same instant.
    """
    since, seen = read_high_water(bookmark)
    best, best_at = since, _instant(since)
    at_best: set[str] = set(seen)
    for resource in resources:
        stamp = (resource.get("meta") or {}).get("lastUpdated")
        at = _instant(stamp)
        if at is None:
            continue
        if best_at is None or at > best_at:
            best, best_at, at_best = stamp, at, set()
        if at == best_at:
            at_best.add(_version(resource))
    if best is None:
        return None
    return json.dumps({"at": best, "seen": sorted(at_best)}, separators=(",", ":"))


def _version(resource: dict[str, Any]) -> str:
    """``Type/id/_history/version``: what makes one read of a resource the same as another."""
    meta = resource.get("meta") or {}
    return f"{resource.get('resourceType')}/{resource.get('id')}/_history/{meta.get('versionId')}"


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else None
