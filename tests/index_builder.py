"""Put hand-made children straight into an index: records through the loader, links by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from gateway.store.loader import load_records
from gateway.store.tables import Child, Link

AGENCY_OF = {
    "education__ehe_register": "education",
    "health__fhir_patient": "health",
    "social_care__case_db": "social_care",
}


def record(source: str, record_id: str, identity: dict[str, Any], **facts: Any) -> dict[str, Any]:
    """A canonical record in JSON form (``facts``: education=..., health=..., social_care=...)."""
    return {
        "provenance": {
            "source": source,
            "record_id": record_id,
            "batch_id": "hand-made",
            "received_at": datetime(2026, 11, 1, tzinfo=UTC).isoformat(),
        },
        "agency": AGENCY_OF[source],
        "identity": identity,
        **facts,
    }


def add_child(
    session: Session, child_id: str, records: list[dict[str, Any]], restricted: bool = False
) -> None:
    """One child with its records, each linked as an automatic MATCH."""
    session.execute(insert(Child).values(child_id=child_id, restricted=restricted))
    for item in records:
        source = item["provenance"]["source"]
        load_records(session, source, item["agency"], "hand-made", [item])
        session.execute(
            insert(Link).values(
                source=source,
                record_id=item["provenance"]["record_id"],
                child_id=child_id,
                state="MATCH",
                origin="AUTO",
                rule="hand-made",
                evidence={},
            )
        )
