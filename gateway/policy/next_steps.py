"""What a person may do next after a refused lookup, from the same agreements the refusal used.

A refusal page offers, in this order: the purposes the person's role may use under an agreement
in force (each a lookup they may make now), asking the family for consent where the purpose
needs it, and break-glass last, only where an agreement names the role for it. Nothing here
reads a child's records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from gateway.access.agreements import Agreement, decide, may_break_glass
from gateway.access.audit import Actor
from gateway.access.purposes import PURPOSES, Purpose


@dataclass(frozen=True)
class NextSteps:
    """The ways forward a refusal page offers (empty lists and False: nothing to offer)."""

    purposes: list[Purpose]
    ask_consent: bool
    break_glass: bool


def purposes_allowed(agreements: list[Agreement], actor: Actor, today: date) -> list[Purpose]:
    """Every purpose an agreement in force lets this person's organisation and role look up."""
    return [p for p in PURPOSES.values() if decide(agreements, actor, p.code, today).allowed]


def next_steps(
    agreements: list[Agreement], actor: Actor, refused: Purpose, outcome: str, today: date
) -> NextSteps:
    """What to offer after ``refused`` was refused with ``outcome`` (an audit outcome code)."""
    others = [p for p in purposes_allowed(agreements, actor, today) if p.code != refused.code]
    return NextSteps(
        purposes=others,
        ask_consent=outcome == "no_consent",
        break_glass=outcome == "refused"
        and may_break_glass(agreements, actor, refused.code, today),
    )
