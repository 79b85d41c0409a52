"""Children's social care case-management database, read incrementally by last-updated time.

The extract is written as JSON lines (one person with their involvements a line) and landed
like any file, so a batch can be reprocessed without querying the live system again.
Config: ``url`` (a SQLAlchemy URL; secret, from the environment or an Airflow Connection).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from connectors.base import Connector, Extracted, Extraction, Stream, read_json_lines
from gateway.errors import FatalConfigError, RetriableSourceError

_TEXT = {"type": ["string", "null"]}
_INVOLVEMENT = {
    "type": "object",
    "required": ["person_id", "kind", "start_date", "updated_at"],
    "properties": {
        "person_id": {"type": "string"},
        "kind": {"type": "string"},
        "start_date": _TEXT,
        "end_date": _TEXT,
        "team": _TEXT,
        "updated_at": {"type": "string"},
    },
    "additionalProperties": False,
}
SCHEMA = {
    "type": "object",
    "required": ["person_id", "updated_at", "involvements"],
    "properties": {
        "person_id": {"type": "string", "minLength": 1},
        **{
            name: _TEXT
            for name in (
                "forename",
                "surname",
                "former_surname",
                "dob",
                "gender",
                "nhs_number",
                "upn",
                "address_line1",
                "town",
                "postcode",
            )
        },
        "restricted_flag": {"type": ["integer", "boolean", "null"]},
        "updated_at": {"type": "string", "minLength": 1},
        "involvements": {"type": "array", "items": _INVOLVEMENT},
    },
    "additionalProperties": False,
}

# Who changed since the bookmark: the person row, or any of their involvements.
_CHANGED = """
    p.updated_at > :since
    OR p.person_id IN (SELECT c.person_id FROM involvement c WHERE c.updated_at > :since)
"""
CHANGED_PEOPLE = text(
    f"""
    SELECT p.person_id, p.forename, p.surname, p.former_surname, p.dob, p.gender,
           p.nhs_number, p.upn, p.address_line1, p.town, p.postcode, p.restricted_flag,
           p.updated_at
    FROM person p
    WHERE {_CHANGED}
    ORDER BY p.person_id
    """  # noqa: S608 (built from constants only)
)
# The changed people's involvements in one query: one pass over the table, where a list of
# person ids a chunk at a time read the whole table again for every chunk when person_id has
# no index (the demo's database has none).
INVOLVEMENTS = text(
    f"""
    SELECT i.person_id, i.kind, i.start_date, i.end_date, i.team, i.updated_at
    FROM involvement i
    WHERE i.person_id IN (SELECT p.person_id FROM person p WHERE {_CHANGED})
    ORDER BY i.person_id, i.start_date
    """  # noqa: S608 (built from constants only)
)
EPOCH = "1970-01-01T00:00:00"
# The demo's case-management database: a SQLite file in the source's inbox folder.
INBOX_DATABASE = "case_management.sqlite"


class CaseManagementDbConnector(Connector):
    source = "social_care__case_db"
    agency = "social_care"
    schedule = "@hourly"
    inbox_folder = "social_care/case_db"
    stale_after_hours = 26.0
    description = "Children's social care case-management database (SQL, incremental)"
    required_config = ("url",)
    secret_fields = ("url",)
    stream = Stream(
        "people", primary_key=("person_id",), bookmark_field="updated_at", schema=SCHEMA
    )

    @classmethod
    def inbox_config(cls, folder: Path) -> dict[str, str]:
        return {"url": f"sqlite:///{folder / INBOX_DATABASE}"}

    @classmethod
    def broken_config(cls, tmp: Path) -> tuple[dict[str, Any], type[Exception]]:
        return {"url": "postgresql+psycopg://nobody@127.0.0.1:1/none"}, RetriableSourceError

    def check(self) -> None:
        engine = self._engine()
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1 FROM person WHERE 1 = 0"))
        except OperationalError as exc:
            raise RetriableSourceError(f"{self.source}: database unavailable") from exc
        except ProgrammingError as exc:
            raise FatalConfigError(f"{self.source}: schema not as expected") from exc
        finally:
            engine.dispose()

    def extract(self, work_dir: Path, bookmark: str | None) -> Extraction:
        since = bookmark or EPOCH
        try:
            people = self._read_changed(since)
        except OperationalError as exc:
            raise RetriableSourceError(f"{self.source}: database unavailable") from exc
        except ProgrammingError as exc:
            raise FatalConfigError(f"{self.source}: schema not as expected") from exc
        if not people:
            return Extraction(files=[], bookmark=since)
        work_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        out = work_dir / f"case_db_extract_{stamp}.jsonl"
        with out.open("w", encoding="utf-8") as handle:
            for person in people:
                handle.write(json.dumps(person, default=str, sort_keys=True) + "\n")
        newest = max(_latest_update(p) for p in people)
        return Extraction(files=[out], bookmark=newest)

    def parse(self, path: Path) -> Iterator[Extracted]:
        yield from read_json_lines(path)

    def _engine(self) -> Any:
        # hide_parameters: a failed query's error never carries the values it was bound with
        return create_engine(self.config["url"], pool_pre_ping=True, hide_parameters=True)

    def _read_changed(self, since: str) -> list[dict[str, Any]]:
        engine = self._engine()
        try:
            with engine.connect() as conn:
                people = [
                    dict(row._mapping) for row in conn.execute(CHANGED_PEOPLE, {"since": since})
                ]
                by_id = {p["person_id"]: {**p, "involvements": []} for p in people}
                for row in conn.execute(INVOLVEMENTS, {"since": since}):
                    person = by_id.get(row.person_id)  # None: changed since people were read
                    if person is not None:
                        person["involvements"].append(dict(row._mapping))
        finally:
            engine.dispose()
        return [{k: _plain(v) for k, v in p.items()} for p in by_id.values()]


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float):  # most values: nothing to do
        return value
    if isinstance(value, list):
        return [{k: _plain(v) for k, v in item.items()} for item in value]
    return value.isoformat() if hasattr(value, "isoformat") else value


def _latest_update(person: dict[str, Any]) -> str:
    stamps = [str(person["updated_at"])] + [str(i["updated_at"]) for i in person["involvements"]]
    return max(stamps)
