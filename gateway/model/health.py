"""What health systems know: registered GP practice and the last contact (never clinical detail)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict


class HealthFacts(BaseModel):
    """Registration and contact, as the index may hold them."""

    model_config = ConfigDict(extra="forbid")

    gp_practice_ods: str | None = None
    # Kept so records stored before contacts were modelled still read; no mapping writes them
    # and nothing reads them: a contact is a ``Contact`` on the record (``record.contacts``).
    last_contact_date: date | None = None
    last_contact_kind: str | None = None
