"""What children's social care knows: referrals, child in need, child protection, looked after."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class Episode(BaseModel):
    """A period of involvement; an open one has no end date."""

    model_config = ConfigDict(extra="forbid")

    start_date: date | None = None
    end_date: date | None = None
    reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self.start_date is not None and self.end_date is None


class SocialCareFacts(BaseModel):
    """The kinds of involvement the index flags (never case notes)."""

    model_config = ConfigDict(extra="forbid")

    referrals: list[Episode] = Field(default_factory=list)
    child_in_need: list[Episode] = Field(default_factory=list)
    child_protection_plans: list[Episode] = Field(default_factory=list)
    looked_after: list[Episode] = Field(default_factory=list)
    lead_team: str | None = None
