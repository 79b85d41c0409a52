"""Flags for health systems: a read-only FHIR R4 endpoint at ``/fhir/r4`` (in the spirit of
CP-IS), answering under the same policy point and audit as the lookup API.

- ``routes``: ``GET /fhir/r4/metadata``, ``GET /fhir/r4/Flag``, ``POST /fhir/r4/Flag/_search``,
  ``GET /fhir/r4/CodeSystem/ehe-flag``;
- ``codes``: our Flag codes as a CodeSystem;
- ``flags``: a lookup's answer as Flags in a searchset Bundle (``fhir.resources.R4B``);
- ``capability``: the CapabilityStatement and the SMART style scopes a token needs;
- ``errors``: every error under ``/fhir/`` as an OperationOutcome;
- ``access_log``: the search's query string (an NHS number) kept out of the access log.

No ``from __future__ import annotations``: FastAPI reads the annotations at runtime.
"""

from fastapi import FastAPI

from gateway.api.fhir import access_log, errors, routes


def install_fhir(app: FastAPI) -> None:
    """Mount the endpoint; install after every other exception handler (``errors``)."""
    app.include_router(routes.router)
    errors.install_errors(app)
    access_log.install()
