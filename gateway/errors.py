"""One exception hierarchy, grouped by what the caller should do.

Messages name files, positions, sources and batch ids; they never carry personal data.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""


class RetriableSourceError(GatewayError):
    """The source is down, slow or busy: try the same work again later."""


class FatalConfigError(GatewayError):
    """Configuration, credentials or a declarative file is wrong: a person must fix it."""


class UnreadablePathError(FatalConfigError):
    """A configured file or folder does not exist or cannot be read."""


class BadRecordError(GatewayError):
    """One record cannot be accepted: keep it with this reason and go on with the rest."""

    def __init__(self, reason: str, *, position: str | None = None) -> None:
        self.reason = reason
        self.position = position
        super().__init__(f"{reason} at {position}" if position else reason)


class RequestRefusedError(GatewayError):
    """A person's request cannot be granted (no agreement, no consent, an unknown purpose or
    child, an override not allowed): answer with ``reason`` and record the refusal. Not a bad
    record (nothing is quarantined) and not transient (asking again gets the same answer)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class BatchGateError(GatewayError):
    """A batch failed a check that guards the whole batch: nothing of it may be published."""
