"""Who a child is, as one agency records it."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.identifiers import is_valid_nhs_number, is_valid_upn

Sex = Literal["female", "male", "unknown"]


def _is_none(value: object) -> bool:
    return value is None


class PreviousName(BaseModel):
    """A name the agency knew the child by before (a surname change, a former forename)."""

    model_config = ConfigDict(extra="forbid")

    given_name: str | None = None
    family_name: str | None = None


class Address(BaseModel):
    """An address with the dates the agency believes it held."""

    model_config = ConfigDict(extra="forbid")

    lines: list[str] = Field(default_factory=list)
    postcode: str | None = None
    from_date: date | None = None
    to_date: date | None = None


class ChildIdentity(BaseModel):
    """Names, birth date, sex, addresses and identifiers of one child in one source."""

    model_config = ConfigDict(extra="forbid")

    given_name: str | None = None
    family_name: str | None = None
    previous_names: list[PreviousName] = Field(default_factory=list)
    birth_date: date | None = None
    sex: Sex | None = None
    addresses: list[Address] = Field(default_factory=list)
    nhs_number: str | None = None
    # The NHS number's verification status where the source says (UK Core code, "01" =
    # present and verified); left out of the record's JSON when no source says.
    nhs_number_verification: str | None = Field(default=None, exclude_if=_is_none)
    upn: str | None = None
    former_upns: list[str] = Field(default_factory=list)
    local_ids: dict[str, str] = Field(default_factory=dict)
    restricted: bool = False
    # Whether the source records the child as deceased (FHIR deceased[x]); left out of the
    # record's JSON when the source does not say.
    deceased: bool | None = Field(default=None, exclude_if=_is_none)

    @property
    def current_postcode(self) -> str | None:
        """The postcode of the latest address still held, if any."""
        held = [a for a in self.addresses if a.to_date is None and a.postcode]
        return held[-1].postcode if held else None

    def identifier_keys(self) -> set[tuple[str, str]]:
        """The identifiers that say a record is a child's, as (kind, value): a valid NHS
        number ("nhs"), a valid UPN ("upn"), each local id ("local:<name>")."""
        keys = {(f"local:{name}", value) for name, value in self.local_ids.items() if value}
        if self.nhs_number and is_valid_nhs_number(self.nhs_number):
            keys.add(("nhs", self.nhs_number))
        if self.upn and is_valid_upn(self.upn):
            keys.add(("upn", self.upn))
        return keys
