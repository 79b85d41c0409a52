"""Our Flag codes as an R4 CodeSystem (``GET /fhir/r4/CodeSystem/ehe-flag``), made from the
Flag kinds themselves (``flags.FLAG_KINDS``), so the published list cannot drift from the codes
the Flags carry."""

from __future__ import annotations

from fhir.resources.R4B.codesystem import CodeSystem

from gateway.api.fhir.flags import FLAG_KINDS, FLAG_SYSTEM, RESTRICTED

CODE_SYSTEM_ID = "ehe-flag"


def flag_code_system() -> CodeSystem:
    """Every code a Flag of this endpoint can carry, with what raises it."""
    concepts = [
        {
            "code": kind.code,
            "display": kind.display,
            "definition": f"Raised when the shared summary field {kind.field} says so "
            f"(category {kind.category}).",
        }
        for kind in FLAG_KINDS
    ]
    concepts.append(
        {
            "code": RESTRICTED.code,
            "display": RESTRICTED.display,
            "definition": "The child's record is restricted: the Flag's text says whom to "
            "contact, and nothing else about the child is shown.",
        }
    )
    return CodeSystem.model_validate(
        {
            "resourceType": "CodeSystem",
            "id": CODE_SYSTEM_ID,
            "url": FLAG_SYSTEM,
            "name": "EheGatewayFlag",
            "title": "EHE gateway Flag codes",
            "status": "active",
            "content": "complete",
            "caseSensitive": True,
            "count": len(concepts),
            "concept": concepts,
        }
    )
