"""What the FHIR endpoint can do, as an R4 CapabilityStatement (``GET /fhir/r4/metadata``) and
the scopes a token needs to search Flags (SMART on FHIR style).
"""

from __future__ import annotations

import re
from typing import Any

from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from gateway.api.fhir.flags import FLAG_SYSTEM, NHS_NUMBER_SYSTEM

FHIR_VERSION = "4.0.1"
STATEMENT_DATE = "2026-12-05"  # when what the endpoint can do last changed
PURPOSE_HEADER = "X-Purpose-Of-Use"
# What a token that carries scopes must grant (any one): SMART v2 (read and search) and v1.
FLAG_SCOPES = ("user/Flag.rs", "system/Flag.rs", "user/Flag.read", "system/Flag.read")
_V2_ACCESS = re.compile(r"c?r?u?d?s?")


def grants_flag_search(scope: str) -> bool:
    """Whether one scope lets its holder search Flags: ``user/`` or ``system/`` context, the
    Flag resource (or ``*``), and ``read`` or ``*`` (SMART v1) or permissions that include
    ``s`` (SMART v2, ``rs``). Patient-context scopes need a launch context this endpoint does
    not have, and a v2 scope narrowed by a query (``?category=...``) is not honoured: neither
    grants anything here."""
    context, _, rest = scope.partition("/")
    resource, _, access = rest.partition(".")
    if context not in ("user", "system") or resource not in ("Flag", "*"):
        return False
    if access in ("read", "*"):
        return True
    return "s" in access and _V2_ACCESS.fullmatch(access) is not None


SECURITY = (
    "SMART on FHIR style: an OAuth 2.0 bearer token (RS256 JWT) from the gateway's identity "
    "provider (EHE_OIDC_ISSUER) or its local issuer for the demo, naming the user's role and "
    "organisation. A token that carries scopes (scope or scp claim) must grant one of: "
    + ", ".join(FLAG_SCOPES)
    + f". Every search states its purpose in the {PURPOSE_HEADER} header (a purpose code of "
    "GET /api/v1/purposes, such as safeguarding_duty); the data-sharing agreement's clause for "
    "the role and purpose decides what is disclosed, and every search is audited."
)
IDENTIFIER_DOC = (
    f"The child's NHS number, as {NHS_NUMBER_SYSTEM}|NNNNNNNNNN (one value; the system is "
    "required). Also accepted in a POST to Flag/_search (form-encoded), which keeps it out of "
    "the URL."
)


def capability_statement(base_url: str) -> CapabilityStatement:
    """The statement, for the endpoint at ``base_url`` (``.../fhir/r4``), validated."""
    statement: dict[str, Any] = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": STATEMENT_DATE,
        "publisher": "EHE gateway",
        "kind": "instance",
        "software": {"name": "EHE gateway"},
        "implementation": {
            "description": "Flags for health systems: elective home education and children's "
            "social care involvement, minimised by data-sharing agreement",
            "url": base_url,
        },
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "documentation": f"Read-only. Flag codes are in {FLAG_SYSTEM}.",
                "security": {
                    "cors": False,
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/"
                                    "restful-security-service",
                                    "code": "SMART-on-FHIR",
                                    "display": "SMART-on-FHIR",
                                },
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/"
                                    "restful-security-service",
                                    "code": "OAuth",
                                    "display": "OAuth",
                                },
                            ],
                            "text": "OAuth 2.0 bearer token (SMART on FHIR scopes)",
                        }
                    ],
                    "description": SECURITY,
                },
                "resource": [
                    {
                        "type": "Flag",
                        "interaction": [
                            {
                                "code": "search-type",
                                "documentation": "GET Flag?patient.identifier=... or POST "
                                "Flag/_search; the X-Purpose-Of-Use header is required",
                            }
                        ],
                        "searchParam": [
                            {
                                "name": "patient.identifier",
                                "type": "token",
                                "documentation": IDENTIFIER_DOC,
                            }
                        ],
                    },
                    {
                        "type": "CodeSystem",
                        "interaction": [
                            {
                                "code": "read",
                                "documentation": "CodeSystem/ehe-flag only: our Flag codes",
                            }
                        ],
                    },
                ],
            }
        ],
    }
    return CapabilityStatement.model_validate(statement)
