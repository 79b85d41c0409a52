"""Data-sharing agreements as reviewable YAML (``agreements/*.yaml``), validated on load.

An agreement names its parties, its review dates and clauses; a clause says which recipients
(organisations and roles) may see which child-summary fields, from which agencies' records,
for which purposes, under which basis. Every problem in every file is reported at once. After
its review date an agreement shares nothing, and the decision says so.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway import config
from gateway.access.audit import Actor
from gateway.access.inboxes import Inbox
from gateway.access.purposes import PURPOSES
from gateway.access.roles import ROLES
from gateway.errors import FatalConfigError
from gateway.model.summary import ChildSummary

Agency = Literal["education", "health", "social_care"]
ALWAYS_DISCLOSED = ("child_id", "restricted")
SUMMARY_FIELDS: tuple[str, ...] = tuple(
    f for f in ChildSummary.field_names() if f not in ALWAYS_DISCLOSED
)


class Party(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation: str = Field(min_length=1)
    contact: str = Field(min_length=1)


class Review(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agreed_on: date
    review_by: date

    @model_validator(mode="after")
    def _in_order(self) -> Review:
        if self.review_by <= self.agreed_on:
            raise ValueError("review_by must come after agreed_on")
        return self


class Recipients(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisations: list[str] = Field(min_length=1)
    roles: list[str] = Field(min_length=1)


class Clause(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    recipients: Recipients
    purposes: list[str] = Field(min_length=1)
    sources: list[Agency] = Field(min_length=1)
    fields: list[str] = Field(min_length=1)
    basis: str = Field(min_length=1)

    @model_validator(mode="after")
    def _known_names(self) -> Clause:
        problems = [f"unknown role {r!r}" for r in self.recipients.roles if r not in ROLES]
        problems += [f"unknown purpose {p!r}" for p in self.purposes if p not in PURPOSES]
        problems += [f"unknown field {f!r}" for f in self.fields if not expand_field(f)]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def allowed_fields(self) -> frozenset[str]:
        return frozenset(f for pattern in self.fields for f in expand_field(pattern))


class Agreement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    parties: list[Party] = Field(min_length=2)
    restricted_contact: str = Field(min_length=1)
    review: Review
    clauses: list[Clause] = Field(min_length=1)
    # Roles at the parties that may break the glass for a purpose this agreement covers, when
    # their own clause does not (a time-limited override, reviewed by IG). None by default.
    break_glass_roles: list[str] = Field(default_factory=list)
    # Roles at the parties that may record (and withdraw) a family's consent, with its
    # evidence, for a purpose this agreement covers. None by default: nobody records consent.
    consent_roles: list[str] = Field(default_factory=list)
    # The team inboxes alerts about EHE children go to (``gateway.access.inboxes``). None by
    # default: no alerts.
    inboxes: list[Inbox] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Agreement:
        parties = {p.organisation for p in self.parties}
        problems = [
            f"{name}: unknown role {r!r}"
            for name, roles in (
                ("break_glass_roles", self.break_glass_roles),
                ("consent_roles", self.consent_roles),
            )
            for r in roles
            if r not in ROLES
        ]
        problems += [
            f"clause {c.id}: recipient {o!r} is not a party"
            for c in self.clauses
            for o in c.recipients.organisations
            if o not in parties
        ]
        ids = [c.id for c in self.clauses]
        problems += [f"clause id {i!r} used twice" for i in sorted(set(ids)) if ids.count(i) > 1]
        problems += [
            f"inbox {b.team}: organisation {b.organisation!r} is not a party"
            for b in self.inboxes
            if b.organisation not in parties
        ]
        # A team is alerted only about children its members may look up under this agreement.
        problems += [
            f"inbox {b.team}: no clause lets role {r!r} of {b.organisation!r} look a child up"
            for b in self.inboxes
            if b.organisation in parties
            for r in b.roles
            if not any(
                b.organisation in c.recipients.organisations and r in c.recipients.roles
                for c in self.clauses
            )
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def in_force(self, today: date) -> bool:
        return self.review.agreed_on <= today <= self.review.review_by

    def covers(self, purpose: str) -> bool:
        return any(purpose in c.purposes for c in self.clauses)


def _named_for(
    agreements: list[Agreement],
    actor: Actor,
    purpose: str | None,
    today: date,
    roles: Callable[[Agreement], list[str]],
) -> bool:
    """Whether an agreement in force that covers the purpose (any purpose, if None) has the
    actor's organisation as a party and names their role in ``roles(agreement)``."""
    return any(
        a.in_force(today)
        and actor.role in roles(a)
        and actor.organisation in {p.organisation for p in a.parties}
        and (purpose is None or a.covers(purpose))
        for a in agreements
    )


def may_break_glass(
    agreements: list[Agreement], actor: Actor, purpose: str | None, today: date
) -> bool:
    """Whether ``actor`` may open an override: their organisation is a party to an agreement in
    force that covers the purpose (any purpose, if None) and names their role for break-glass."""
    return _named_for(agreements, actor, purpose, today, lambda a: a.break_glass_roles)


def may_record_consent(
    agreements: list[Agreement], actor: Actor, purpose: str | None, today: date
) -> bool:
    """Whether ``actor`` may record or withdraw consent for the purpose: their organisation is a
    party to an agreement in force that covers it and names their role in ``consent_roles``
    (an administrator of no agreement never may)."""
    return _named_for(agreements, actor, purpose, today, lambda a: a.consent_roles)


@functools.cache
def expand_field(pattern: str) -> tuple[str, ...]:
    """``section.*`` to every field of the section; a known field to itself; else nothing."""
    if pattern.endswith(".*"):
        return tuple(f for f in SUMMARY_FIELDS if f.startswith(pattern[:-1]))
    return (pattern,) if pattern in SUMMARY_FIELDS else ()


@dataclass(frozen=True)
class SharingDecision:
    """What one actor may see for one purpose, and which clause says so (or why nothing)."""

    reason: str
    agreement: Agreement | None = None
    clause: Clause | None = None

    @property
    def allowed(self) -> bool:
        return self.clause is not None

    @property
    def clause_ref(self) -> str | None:
        if self.agreement is None or self.clause is None:
            return None
        return f"{self.agreement.id}#{self.clause.id}"

    @property
    def fields(self) -> frozenset[str]:
        return self.clause.allowed_fields() if self.clause else frozenset()

    @property
    def sources(self) -> frozenset[str]:
        return frozenset(self.clause.sources) if self.clause else frozenset()


def decide(agreements: list[Agreement], actor: Actor, purpose: str, today: date) -> SharingDecision:
    """The widest clause in force that covers the actor's organisation, role and purpose."""
    matching = [
        (a, c)
        for a in agreements
        for c in a.clauses
        if actor.organisation in c.recipients.organisations
        and actor.role in c.recipients.roles
        and purpose in c.purposes
    ]
    in_force = [(a, c) for a, c in matching if a.in_force(today)]
    if in_force:
        agreement, clause = max(in_force, key=lambda ac: len(ac[1].allowed_fields()))
        return SharingDecision(f"allowed by {agreement.id}#{clause.id}", agreement, clause)
    if matching:
        lapsed = sorted({f"{a.id} (review by {a.review.review_by})" for a, _ in matching})
        return SharingDecision(
            f"the agreement that covers this has passed its review date and shares nothing "
            f"until it is renewed: {', '.join(lapsed)}"
        )
    return SharingDecision(
        f"no data-sharing agreement lets role {actor.role} of this organisation see records "
        f"for purpose {purpose}"
    )


def load_agreements(folder: Path | None = None) -> list[Agreement]:
    """Every agreement in the folder; every problem in every file in one error."""
    source = folder or agreements_dir()
    agreements, problems = [], []
    for path in sorted(source.glob("*.yaml")):
        try:
            agreements.append(Agreement.model_validate(_read_yaml(path)))
        except ValidationError as exc:
            problems += [f"{path.name}: {_where(e)}: {e['msg']}" for e in exc.errors()]
        except (yaml.YAMLError, ValueError) as exc:
            problems.append(f"{path.name}: not readable YAML ({type(exc).__name__})")
    ids = [a.id for a in agreements]
    problems += [f"agreement id {i!r} used twice" for i in sorted(set(ids)) if ids.count(i) > 1]
    teams = [b.team for a in agreements for b in a.inboxes]
    problems += [f"inbox team {t!r} named twice" for t in sorted(set(teams)) if teams.count(t) > 1]
    if problems:
        raise FatalConfigError("data-sharing agreements are not valid: " + " | ".join(problems))
    return agreements


def team_inboxes(agreements: list[Agreement], today: date) -> list[Inbox]:
    """The inboxes named in the agreements in force today (a lapsed agreement alerts nobody)."""
    return [b for a in agreements if a.in_force(today) for b in a.inboxes]


def agreements_dir() -> Path:
    return config.agreements_dir()


def _read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _where(error: Any) -> str:
    return ".".join(str(p) for p in error["loc"]) or "(top)"
