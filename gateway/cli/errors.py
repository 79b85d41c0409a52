"""What the command line says when a command fails, and the exit code it ends with.

An expected failure (a gated batch, bad configuration, an unknown source, a path that cannot
be read, an index never upgraded, a source or the index out of reach) prints one line on
stderr and exits with its code below; only ``--debug`` shows the traceback. The line comes
from the gateway's own messages (ids, names of sources and files, counts) or from the type of
a driver's error, never from a driver's message, which may quote record contents.
"""

from __future__ import annotations

from enum import IntEnum

from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from gateway.errors import (
    BadRecordError,
    BatchGateError,
    FatalConfigError,
    GatewayError,
    RetriableSourceError,
    UnreadablePathError,
)


class ExitCode(IntEnum):
    """The exit codes of ``ehe-gateway`` (in ``ehe-gateway --help`` and docs/data-engineers.md)."""

    OK = 0
    FAILED = 1  # unexpected error (run again with --debug); `summary` that does not add up
    USAGE = 2  # a wrong command, option or argument
    GATED = 3  # a batch was held whole by a gate: see `quarantine list`
    CONFIG = 4  # bad configuration, unknown source or batch, a broken mapping or suite
    UNREADABLE = 5  # a file or folder that does not exist or cannot be read
    INDEX_NOT_UPGRADED = 6  # the index has no schema or an old one: `ehe-gateway db upgrade`
    INDEX_UNREACHABLE = 7  # the index database refused or dropped the connection
    SOURCE_UNAVAILABLE = 8  # the source system is down or slow: try again later


EXIT_CODES_HELP = (
    "Exit codes: 0 done; 1 unexpected error (run again with --debug); 2 wrong usage; "
    "3 a batch was held whole by a gate (see `quarantine list`); 4 bad configuration or "
    "unknown source; 5 a path that cannot be read; 6 index not upgraded (run `db upgrade`); "
    "7 index database out of reach; 8 source out of reach (try again later)."
)
_NOT_UPGRADED = ("UndefinedTable", "UndefinedColumn")


# The gateway's own errors, most specific first: their messages are safe to print.
_OWN: tuple[tuple[type[GatewayError], ExitCode], ...] = (
    (UnreadablePathError, ExitCode.UNREADABLE),
    (BatchGateError, ExitCode.GATED),
    (RetriableSourceError, ExitCode.SOURCE_UNAVAILABLE),
    (FatalConfigError, ExitCode.CONFIG),
    (BadRecordError, ExitCode.CONFIG),
    (GatewayError, ExitCode.FAILED),
)


def describe_failure(exc: BaseException) -> tuple[ExitCode, str]:
    """The exit code and the one line to print for a command that raised ``exc``."""
    for kind, code in _OWN:
        if isinstance(exc, kind):
            return code, str(exc)
    if isinstance(exc, DBAPIError):
        return _database_failure(exc)
    if isinstance(exc, (DisconnectionError, PoolTimeoutError)):
        return ExitCode.INDEX_UNREACHABLE, f"index database out of reach ({type(exc).__name__})"
    if isinstance(exc, OSError) and exc.filename is not None:
        reason = exc.strerror or type(exc).__name__
        return ExitCode.UNREADABLE, f"cannot read {exc.filename}: {reason}"
    return ExitCode.FAILED, f"unexpected {type(exc).__name__}; run again with --debug to see where"


def _database_failure(exc: DBAPIError) -> tuple[ExitCode, str]:
    driver_error = type(exc.orig).__name__
    text = str(exc.orig).lower()  # only read, never printed: it may quote parameters
    if driver_error in _NOT_UPGRADED or "no such table" in text or "no such column" in text:
        return (
            ExitCode.INDEX_NOT_UPGRADED,
            "the index has no schema, or an old one: run `ehe-gateway db upgrade`",
        )
    if exc.connection_invalidated or driver_error in ("OperationalError", "InterfaceError"):
        return ExitCode.INDEX_UNREACHABLE, f"index database out of reach ({driver_error})"
    return ExitCode.FAILED, f"index database error ({driver_error}); run again with --debug"
