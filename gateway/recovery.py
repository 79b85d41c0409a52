"""What to do about a failure: retry it or stop and call a person, and what may be said of it.

The orchestration layer (the DAG tasks) asks ``classify`` about any exception a stage raised.
Messages of the gateway's own errors name sources, batches and positions only, so they may be
shown; any other exception (a driver error can quote SQL parameters, so record contents) is
named by its type alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from gateway.errors import (
    BadRecordError,
    BatchGateError,
    FatalConfigError,
    GatewayError,
    RequestRefusedError,
    RetriableSourceError,
)

FATAL = (FatalConfigError, BadRecordError, BatchGateError, RequestRefusedError)
# The index refused the statement itself (a constraint, a bad value, bad SQL): the same work
# would be refused again.
REFUSED_BY_THE_INDEX = (IntegrityError, DataError, ProgrammingError)


class StaleSourceError(GatewayError):
    """A source has sent no good batch for longer than its threshold: a person must look."""


class AuditBrokenError(GatewayError):
    """The audit log verifies broken (a truncation, deletion, rewrite or reordering, or a
    forged checkpoint): a person must look, and no checkpoint is signed over it."""


@dataclass(frozen=True)
class Failure:
    retriable: bool
    reason: str
    alert_kind: str = "task_failed"

    def describe(self, source: str, batch: str | None) -> str:
        what = "retriable" if self.retriable else "fatal"
        return f"source {source} batch {batch or '(none)'}: {what}: {self.reason}"


def classify(exc: BaseException) -> Failure:
    """Retriable (try the same work later) or fatal (retrying cannot help), with a safe reason."""
    if isinstance(exc, StaleSourceError):
        return Failure(False, f"{type(exc).__name__}: {exc}", "stale_source")
    if isinstance(exc, AuditBrokenError):
        return Failure(False, f"{type(exc).__name__}: {exc}", "audit_broken")
    if isinstance(exc, (*FATAL, RetriableSourceError)):
        return Failure(isinstance(exc, RetriableSourceError), f"{type(exc).__name__}: {exc}")
    if isinstance(exc, DBAPIError):  # the driver's message may quote record contents
        passing = not isinstance(exc, REFUSED_BY_THE_INDEX) and (
            exc.connection_invalidated or isinstance(exc, OperationalError)
        )
        lost = " (connection lost)" if exc.connection_invalidated else ""
        return Failure(passing, f"index database error {type(exc.orig).__name__}{lost}")
    if isinstance(exc, (DisconnectionError, PoolTimeoutError, TimeoutError, ConnectionError)):
        return Failure(True, f"{type(exc).__name__} (connection or timeout)")
    # Unknown (a defect, or an error not known to pass): retrying the same work would fail
    # the same way, so a person is called; named by its type only.
    return Failure(False, type(exc).__name__)
