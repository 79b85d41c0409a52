"""The FHIR search's NHS number never reaches the access log.

``GET /fhir/r4/Flag?patient.identifier=...|NNNNNNNNNN`` carries the identifier in its query
string, which uvicorn's access log (``ehe-gateway serve --access-log``) writes out. This filter
on the ``uvicorn.access`` logger cuts the query string off every path under ``/fhir/`` first.
"""

from __future__ import annotations

import logging

ACCESS_LOGGER = "uvicorn.access"
PREFIX = "/fhir/"


class FhirQueryRedacted(logging.Filter):
    """Replace the query string of a ``/fhir/`` path in an access log line's arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_cut(a) for a in record.args)
        return True


def _cut(argument: object) -> object:
    if isinstance(argument, str) and argument.startswith(PREFIX) and "?" in argument:
        return argument.split("?", 1)[0] + "?(query not logged)"
    return argument


def install() -> None:
    """Add the filter to the access logger (once, however many apps a process makes)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, FhirQueryRedacted) for f in logger.filters):
        logger.addFilter(FhirQueryRedacted())
