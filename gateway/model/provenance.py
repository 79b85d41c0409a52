"""Where a fact came from: every canonical record carries one."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class Provenance(BaseModel):
    """The agency system, its record id, and the batch that brought the record in."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    record_id: str
    batch_id: str
    received_at: datetime
