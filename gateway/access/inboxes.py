"""Team inboxes, named in a data-sharing agreement (its ``inboxes:`` section): where the
gateway's alerts about EHE children go (``gateway.notify``).

An inbox is a team at one of the agreement's parties: its name, organisation, the roles of its
members (who see it on the team inbox page), an email address, an optional webhook URL, and
the kinds of event it receives (``EVENT_KINDS``). A notification to it holds the child's id,
the event kind, the date and a link; never a name or any other detail.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.access.roles import ROLES

# The events an inbox may receive, in plain words (``gateway.notify.events`` finds them;
# ``gateway.notify.messages.event_words`` fills in the settings' months and days).
EVENT_KINDS: dict[str, str] = {
    "removed_while_known": "Removed from a school roll to home education while known to social "
    "care or on a plan",
    "known_to_social_care": "Became known to social care while home educated",
    "unseen": "Not seen by any agency for {months} months",
    "held_record": "A record about the child has waited more than {days} days to be checked",
}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
WEBHOOK = re.compile(r"^https?://[^\s/]+(/\S*)?$")


class Inbox(BaseModel):
    """One team's inbox."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    team: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str = Field(min_length=1)
    organisation: str = Field(min_length=1)
    roles: list[str] = Field(min_length=1)
    email: str
    webhook: str | None = None
    events: list[str] = Field(min_length=1)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not EMAIL.match(value):
            raise ValueError("email is not an email address (name@domain)")
        return value

    @field_validator("webhook")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        if value is not None and not WEBHOOK.match(value):
            raise ValueError("webhook is not an http:// or https:// URL")
        return value

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        unknown = [r for r in value if r not in ROLES]
        if unknown:
            raise ValueError(f"unknown role {unknown[0]!r} (one of {', '.join(ROLES)})")
        return value

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        unknown = [e for e in value if e not in EVENT_KINDS]
        if unknown:
            raise ValueError(f"unknown event {unknown[0]!r} (one of {', '.join(EVENT_KINDS)})")
        return value

    def receives(self, kind: str) -> bool:
        return kind in self.events

    def for_member(self, organisation: str, role: str) -> bool:
        """Whether a person of this organisation and role is a member of the team."""
        return organisation == self.organisation and role in self.roles
