"""The one list of sources: every connector the gateway knows, by name.

Each connector class declares how it is run (agency, schedule, pool, full snapshot or not,
whether the demo runs it, its inbox folder, its freshness threshold: see ``Connector``). The
DAGs, ``ehe-gateway sources``, the Airflow pools, the freshness check, the row-count gate and the
synthetic inbox all iterate this list; adding a connector here is all it takes to run it.

Listed largest and slowest source first: the demo runs the ingest DAGs in this order, so that
parallel workers finish close together.
"""

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
        FhirPatientConnector,
        Hl7AdtConnector,
        CommonTransferFileConnector,
        RemovalFromRollConnector,
        EheRegisterConnector,
        CaseManagementDbConnector,
        CinCensusConnector,
        Ssda903Connector,
        FhirRestConnector,
    )
}


def connector_class(source: str) -> type[Connector]:
    try:
        return CONNECTORS[source]
    except KeyError:
        known = ", ".join(sorted(CONNECTORS))
        raise FatalConfigError(f"unknown source {source!r}; known sources: {known}") from None
