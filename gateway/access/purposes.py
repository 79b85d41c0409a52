"""Purposes a lookup may state, each with its statute and UK GDPR bases.

No purpose, no answer. Consent is the basis only where the purpose says so; in safeguarding it
usually is not (DfE information-sharing advice, 2024).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import RequestRefusedError

SCH1_18 = "9(2)(g) + DPA 2018 Sch.1 para 18"


@dataclass(frozen=True)
class Purpose:
    code: str
    title: str
    statute: str
    article6: str
    article9: str
    requires_consent: bool = False

    @property
    def lawful_basis(self) -> str:
        return f"{self.statute}; UK GDPR {self.article6}, {self.article9}"


PURPOSES: dict[str, Purpose] = {
    p.code: p
    for p in (
        Purpose(
            "ehe_enquiry",
            "EHE suitability enquiry / children missing education",
            "Education Act 1996 s.436A",
            "6(1)(e)",
            SCH1_18,
        ),
        Purpose(
            "child_in_need",
            "Child in need assessment",
            "Children Act 1989 s.17",
            "6(1)(e)",
            SCH1_18,
        ),
        Purpose(
            "child_protection",
            "Child protection enquiry",
            "Children Act 1989 s.47",
            "6(1)(e)",
            SCH1_18,
        ),
        Purpose(
            "safeguarding_duty",
            "Safeguarding duty of agencies",
            "Children Act 2004 s.11",
            "6(1)(e)",
            SCH1_18,
        ),
        Purpose(
            "voluntary_support",
            "Voluntary support offer to an EHE family",
            "none",
            "6(1)(a) consent",
            "9(2)(a) explicit consent",
            requires_consent=True,
        ),
    )
}


class UnknownPurposeError(RequestRefusedError):
    """A request named no purpose, or one the gateway does not know."""


def purpose_for(code: str | None) -> Purpose:
    if not code:
        raise UnknownPurposeError("a lookup must state its purpose")
    try:
        return PURPOSES[code]
    except KeyError:
        raise UnknownPurposeError(
            f"unknown purpose {code!r}; known: {', '.join(PURPOSES)}"
        ) from None
