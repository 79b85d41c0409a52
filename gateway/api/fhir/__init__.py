"""Flags for health systems: a read-only FHIR R4 endpoint at ``/fhir/r4`` (in the spirit of
CP-IS), answering under the same policy point and audit as the lookup API.

- ``routes``: ``GET /fhir/r4/metadata``, ``GET /fhir/r4/Flag``, ``POST /fhir/r4/Flag/_search``;
- ``flags``: a lookup's answer as Flags in a searchset Bundle (``fhir.resources.R4B``);
- ``capability``: the CapabilityStatement and the SMART style scopes a token needs;
- ``errors``: every error under ``/fhir/`` as an OperationOutcome.

No ``from __future__ import annotations``: FastAPI reads the annotations at runtime.
"""

from fastapi import FastAPI

from gateway.api.fhir import errors, routes


def install_fhir(app: FastAPI) -> None:
    """Mount the endpoint; install after every other exception handler (``errors``)."""
    app.include_router(routes.router)
    errors.install_errors(app)
