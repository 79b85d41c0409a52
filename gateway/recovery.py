"""What to do about a failure: retry it or stop and call a person, and what may be said of it.

The orchestration layer (the DAG tasks) asks ``classify`` about any exception a stage raised.
Messages of the gateway's own errors name sources, batches and positions only, so they may be
shown; any other exception (a driver error can quote SQL parameters, so record contents) is
named by its type alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from gateway.errors import (
    BadRecordError,
    BatchGateError,
    FatalConfigError,
    GatewayError,
    RetriableSourceError,
)

FATAL = (FatalConfigError, BadRecordError, BatchGateError)


class StaleSourceError(GatewayError):
    """A source has sent no good batch for longer than its threshold: a person must look."""


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
    if isinstance(exc, FATAL):
        return Failure(False, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, RetriableSourceError):
        return Failure(True, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, DBAPIError):
        lost = " (connection lost)" if exc.connection_invalidated else ""
        return Failure(True, f"index database error {type(exc.orig).__name__}{lost}")
    if isinstance(exc, (DisconnectionError, PoolTimeoutError, TimeoutError, ConnectionError)):
        return Failure(True, f"{type(exc).__name__} (connection or timeout)")
    # Unknown: may be passing; retried with backoff, and named by type only.
    return Failure(True, type(exc).__name__)
