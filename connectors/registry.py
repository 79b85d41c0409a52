"""Every source the gateway knows, by name."""

from __future__ import annotations

from connectors.base import Connector
from connectors.education.ctf import CommonTransferFileConnector
from connectors.education.ehe_register import EheRegisterConnector
from connectors.education.removal_from_roll import RemovalFromRollConnector
from connectors.health.fhir_patients import FhirPatientConnector
from connectors.health.fhir_rest import FhirRestConnector
from connectors.health.hl7v2_adt import Hl7AdtConnector
from connectors.social_care.case_db import CaseManagementDbConnector
from connectors.social_care.cin_census import CinCensusConnector
from connectors.social_care.ssda903 import Ssda903Connector
from gateway.errors import FatalConfigError

CONNECTORS: dict[str, type[Connector]] = {
    c.source: c
    for c in (
        CommonTransferFileConnector,
        EheRegisterConnector,
        RemovalFromRollConnector,
        FhirPatientConnector,
        FhirRestConnector,
        Hl7AdtConnector,
        CaseManagementDbConnector,
        CinCensusConnector,
        Ssda903Connector,
    )
}


def connector_class(source: str) -> type[Connector]:
    try:
        return CONNECTORS[source]
    except KeyError:
        known = ", ".join(sorted(CONNECTORS))
        raise FatalConfigError(f"unknown source {source!r}; known sources: {known}") from None
