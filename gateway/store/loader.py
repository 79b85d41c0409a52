"""Write a batch into the index: new versions of source records, held items, accounting.

Set-based and in one transaction per batch: current versions are read in bulk, new versions
written (COPY on PostgreSQL, executemany on SQLite), superseded ones flagged; a record whose
content has not changed adds no version. Loading the same batch twice leaves the index as it was.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from itertools import islice
from typing import Any

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.orm import Session

from gateway.identifiers import is_valid_nhs_number, is_valid_upn
from gateway.store import pg_bulk
from gateway.store.tables import HeldIdentifier, HeldRecord, SourceRecord
from gateway.store.tables.quarantine import held_identifier_rows

CHUNK = 500


@dataclass(frozen=True)
class LoadResult:
    loaded: int
    new_versions: int


def content_hash(record: dict[str, Any]) -> str:
    """A hash of what the record says, leaving out when and in which batch it came."""
    return hashlib.sha256(_content_json(record).encode()).hexdigest()


# The same text as json.dumps(..., sort_keys=True, default=str), without a new encoder per call.
_ENCODER = json.JSONEncoder(sort_keys=True, default=str)


def _content_json(record: dict[str, Any]) -> str:
    content = {k: v for k, v in record.items() if k != "provenance"}
    return _ENCODER.encode(content)


def _payload_json(record: dict[str, Any], content_json: str) -> str:
    """The whole record as JSON text, reusing the content already serialised for the hash."""
    provenance = _ENCODER.encode(record.get("provenance"))
    rest = ", " + content_json[1:] if content_json != "{}" else "}"
    return '{"provenance": ' + provenance + rest


def _current_versions(
    session: Session, source: str, record_ids: Sequence[str]
) -> dict[str, tuple[int, str]]:
    if pg_bulk.on_postgresql(session):
        return pg_bulk.current_versions(session, source, record_ids)
    found: dict[str, tuple[int, str]] = {}
    unique = sorted(set(record_ids))
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        rows = session.execute(
            select(SourceRecord.record_id, SourceRecord.version, SourceRecord.content_hash).where(
                SourceRecord.source == source,
                SourceRecord.is_current.is_(True),
                SourceRecord.record_id.in_(chunk),
            )
        )
        for record_id, version, digest in rows:
            found[record_id] = (version, digest)
    return found


def load_records(
    session: Session,
    source: str,
    agency: str,
    batch_id: str,
    records: Sequence[dict[str, Any]],
    *,
    keeps_contacts: bool = False,
) -> LoadResult:
    """Add the batch's canonical records (JSON form, in file order) as source-record versions.

    On PostgreSQL the new versions are written with COPY, and lookups and flag updates take
    one statement each; on SQLite, chunked executemany. One transaction either way (the
    caller's), and nothing is committed per row.

    ``keeps_contacts`` (a source whose mapping declares contacts): a contact is an event that
    happened, so a new version keeps the contacts of the version it replaces as well as its
    own (an ADT update after an attendance does not undo the attendance). Every reader then
    finds a record's contacts in its current version.
    """
    record_ids = [r["provenance"]["record_id"] for r in records]
    current = _current_versions(session, source, record_ids)
    if keeps_contacts:
        records = _with_earlier_contacts(records, _current_contacts(session, source, record_ids))
    superseded: set[tuple[str, int]] = set()
    rows = _new_versions(
        records, current, superseded, source=source, agency=agency, batch_id=batch_id
    )
    written = _insert(session, rows)
    # What this batch replaced, in the index or earlier in the batch itself, is flagged once
    # every new version is in (one statement): so the COPY streams rows as they are made, and
    # the server takes them in while the next are hashed.
    _flag_superseded(session, source, superseded)
    return LoadResult(loaded=len(records), new_versions=written)


def _current_contacts(
    session: Session, source: str, record_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """The contacts each record's current version holds (records with none are left out)."""
    found: dict[str, list[dict[str, Any]]] = {}
    unique = sorted(set(record_ids))
    contacts = SourceRecord.payload["contacts"]
    for start in range(0, len(unique), CHUNK):
        rows = session.execute(
            select(SourceRecord.record_id, contacts).where(
                SourceRecord.source == source,
                SourceRecord.is_current.is_(True),
                SourceRecord.record_id.in_(unique[start : start + CHUNK]),
            )
        )
        found.update({record_id: held for record_id, held in rows if held})
    return found


def _with_earlier_contacts(
    records: Sequence[dict[str, Any]], earlier: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Each record with the contacts of the versions before it (in the index, or earlier in
    the batch) added to its own, once each, in date order."""
    result = []
    for record in records:
        record_id = record["provenance"]["record_id"]
        kept = {(str(c["on"]), c["kind"]) for c in earlier.get(record_id, [])}
        kept |= {(str(c["on"]), c["kind"]) for c in record.get("contacts") or []}
        if kept:
            contacts = [{"kind": kind, "on": on} for on, kind in sorted(kept)]
            earlier[record_id] = contacts
            result.append({**record, "contacts": contacts})
        else:
            result.append(record)
    return result


def _new_versions(
    records: Sequence[dict[str, Any]],
    current: dict[str, tuple[int, str]],
    superseded: set[tuple[str, int]],
    *,
    source: str,
    agency: str,
    batch_id: str,
) -> Iterator[dict[str, Any]]:
    """The rows of the records whose content changed, each a new current version; adds to
    ``superseded`` the versions they replace (and updates ``current``) as it goes."""
    for record in records:
        record_id = record["provenance"]["record_id"]
        content_json = _content_json(record)
        digest = hashlib.sha256(content_json.encode()).hexdigest()
        version, existing = current.get(record_id, (0, None))
        if digest == existing:
            continue
        if version:
            superseded.add((record_id, version))
        current[record_id] = (version + 1, digest)
        row = _row(record, source=source, agency=agency, batch_id=batch_id, version=version + 1)
        row["content_hash"] = digest
        row["payload_json"] = content_json
        row["is_current"] = True  # until a later version, here or in the index, supersedes it
        yield row


def _insert(session: Session, rows: Iterator[dict[str, Any]]) -> int:
    """Write the rows (COPY on PostgreSQL, chunked inserts on SQLite); how many there were."""
    written = 0
    if pg_bulk.on_postgresql(session):

        def counted() -> Iterator[tuple[Any, ...]]:
            nonlocal written
            for row in rows:
                written += 1
                yield copy_tuple(row)

        pg_bulk.copy_rows(session, "source_record", counted())
        return written
    while chunk := list(islice(rows, CHUNK)):
        for r in chunk:
            del r["payload_json"]
        session.execute(insert(SourceRecord), chunk)
        written += len(chunk)
    return written


def copy_tuple(row: dict[str, Any]) -> tuple[Any, ...]:
    """A loader row as COPY wants it, in ``pg_bulk.COLUMNS`` order, the payload as JSON text.

    COPY text ignores a timestamp's offset, so an aware time is written as UTC, as binding would.
    """
    received = _naive_utc(row["received_at"])
    return (
        row["source"],
        row["record_id"],
        row["version"],
        row["is_current"],
        row["agency"],
        row["batch_id"],
        received,
        row["content_hash"],
        row["nhs_number"],
        row["upn"],
        row["birth_date"],
        row["restricted"],
        _payload_json(row["payload"], row["payload_json"]),
    )


@lru_cache(maxsize=256)
def _naive_utc(instant: datetime) -> datetime:
    """The instant in UTC without its offset (a batch's records share one: converted once)."""
    if instant.tzinfo is None:
        return instant
    return instant.astimezone(UTC).replace(tzinfo=None)


@lru_cache(maxsize=256)
def _instant(text: str) -> datetime:
    """An ISO 8601 received time (a batch's records share one: parsed once)."""
    return datetime.fromisoformat(text)


def _flag_superseded(session: Session, source: str, keys: Iterable[tuple[str, int]]) -> None:
    if pg_bulk.on_postgresql(session):
        pg_bulk.flag_superseded(session, source, keys)
        return
    ordered = sorted(keys)
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        session.execute(
            update(SourceRecord)
            .where(
                SourceRecord.source == source,
                tuple_(SourceRecord.record_id, SourceRecord.version).in_(chunk),
            )
            .values(is_current=False)
            .execution_options(synchronize_session=False)
        )


def _row(
    record: dict[str, Any], *, source: str, agency: str, batch_id: str, version: int
) -> dict[str, Any]:
    identity = record["identity"]
    nhs = identity.get("nhs_number")
    upn = identity.get("upn")
    birth = identity.get("birth_date")
    return {
        "source": source,
        "record_id": record["provenance"]["record_id"],
        "version": version,
        "agency": agency,
        "batch_id": batch_id,
        "received_at": _instant(record["provenance"]["received_at"]),
        "nhs_number": nhs if is_valid_nhs_number(nhs) else None,
        "upn": upn if is_valid_upn(upn) else None,
        "birth_date": date.fromisoformat(birth) if birth else None,
        "restricted": bool(identity.get("restricted")),
        "payload": record,
    }


def hold_items(
    session: Session, source: str, batch_id: str, items: Sequence[dict[str, Any]]
) -> None:
    """Keep new quarantined and rejected items of a batch (the caller passes only items not yet
    held: the key is batch and position, and the unique constraint refuses a second copy)."""
    rows = [
        {
            "batch_id": batch_id,
            "source": source,
            "item_key": i["item_key"],
            "stage": i["stage"],
            "status": i["status"],
            "reasons": i["reasons"],
            "payload": i["payload"] or "",
        }
        for i in items
    ]
    by_key = {row["item_key"]: row for row in rows}
    keys = []
    for start in range(0, len(rows), CHUNK):
        held = session.execute(
            insert(HeldRecord).returning(HeldRecord.id, HeldRecord.item_key),
            rows[start : start + CHUNK],
        )
        for held_id, item_key in held:
            row = by_key[item_key]
            keys.extend(held_identifier_rows(held_id, row["stage"], row["payload"]))
    # The identifiers of records held by validation: the read model finds them by these.
    for start in range(0, len(keys), CHUNK):
        session.execute(insert(HeldIdentifier), keys[start : start + CHUNK])
