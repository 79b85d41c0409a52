"""Sessions that end: claims mapped to a role and organisation, lifetimes, and sign-out.

- ``ClaimMapping``: which claims of an identity provider's token name the person, their role
  and their organisation, and how their values map to the gateway's (the OIDC settings).
- A session's key is SHA-256 of its issuer and session id (``sid``, else ``jti``, else the
  token itself): signing out revokes the key in ``revoked_session``, so every token of that
  session is refused by every API worker.
- ``Revocations`` asks that table: one primary-key read. The token verifier repeats it for a
  token it already knows at most every ``RECHECK_SECONDS`` (a revocation made by another
  worker takes effect within that; the worker that signs a session out forgets it at once).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from gateway.access.audit import Actor
from gateway.access.roles import ROLES
from gateway.errors import FatalConfigError, GatewayError
from gateway.settings import settings
from gateway.store.tables import RevokedSession

RECHECK_SECONDS = 5.0
NATIVE_ROLE_CLAIM = "role"
NATIVE_ORGANISATION_CLAIM = "organisation"


class ClaimsRefusedError(GatewayError):
    """The identity provider's claims name no single gateway role, or no allowed organisation."""


@dataclass(frozen=True)
class ClaimMapping:
    """Claim names and value maps; an empty map takes the claim's values as they are."""

    user_claim: str = "sub"
    role_claim: str = NATIVE_ROLE_CLAIM
    organisation_claim: str = NATIVE_ORGANISATION_CLAIM
    role_map: Mapping[str, str] = field(default_factory=dict)
    organisation_map: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> ClaimMapping:
        unknown = sorted(set(settings().oidc_role_map.values()) - set(ROLES))
        if unknown:
            raise FatalConfigError(
                f"invalid setting: EHE_OIDC_ROLE_MAP names unknown roles {unknown}"
            )
        return cls(
            user_claim=settings().oidc_user_claim,
            role_claim=settings().oidc_role_claim,
            organisation_claim=settings().oidc_organisation_claim,
            role_map=dict(settings().oidc_role_map),
            organisation_map=dict(settings().oidc_organisation_map),
        )

    def actor(self, claims: Mapping[str, Any]) -> Actor:
        """The actor the claims name; ``ClaimsRefusedError`` with the reason (no values)."""
        user = claim(claims, self.user_claim) or claims.get("sub")
        if not isinstance(user, str) or not user:
            raise ClaimsRefusedError("the token names no user")
        roles = _mapped(claim(claims, self.role_claim), self.role_map)
        roles &= set(ROLES)
        if len(roles) != 1:
            raise ClaimsRefusedError(
                f"the token's {self.role_claim} claim maps to {len(roles)} gateway roles, not one"
            )
        organisations = _mapped(claim(claims, self.organisation_claim), self.organisation_map)
        if len(organisations) != 1:
            raise ClaimsRefusedError(
                f"the token's {self.organisation_claim} claim maps to no single organisation"
            )
        return Actor(user[:120], organisations.pop()[:120], roles.pop())


def claim(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by name, or by dotted path into nested objects (``realm_access.roles``)."""
    if path in claims:
        return claims[path]
    found: Any = claims
    for part in path.split("."):
        if not isinstance(found, Mapping) or part not in found:
            return None
        found = found[part]
    return found


def _mapped(value: Any, mapping: Mapping[str, str]) -> set[str]:
    values = value if isinstance(value, list) else [value]
    strings = {v for v in values if isinstance(v, str) and v}
    if not mapping:
        return strings
    return {mapping[v] for v in strings if v in mapping}


def session_key(issuer: str, claims: Mapping[str, Any], token: str) -> str:
    """What sign-out revokes: the session (``sid``), else the token (``jti``, else itself)."""
    sid = claims.get("sid") or claims.get("jti")
    ident = f"sid:{sid}" if sid else "token:" + hashlib.sha256(token.encode()).hexdigest()
    return hashlib.sha256(f"{issuer}\x00{ident}".encode()).hexdigest()


def check_lifetime(claims: Mapping[str, Any], now: float, max_seconds: int, leeway: int) -> float:
    """When the token's session must end (its expiry or the maximum since sign-in, the
    sooner); ``ClaimsRefusedError`` if it was issued for longer than the maximum or the
    session began longer ago."""
    issued = float(claims["iat"])
    if float(claims["exp"]) - issued > max_seconds + leeway:
        raise ClaimsRefusedError("the token's lifetime is longer than this service accepts")
    began = claims.get("auth_time", issued)
    began = float(began) if isinstance(began, int | float) else issued
    if now - began > max_seconds + leeway:
        raise ClaimsRefusedError("the session is older than this service accepts; sign in again")
    return min(float(claims["exp"]), began + max_seconds)


class Revocations:
    """The ``revoked_session`` table, through the app's session factory."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def is_revoked(self, key: str) -> bool:
        with self.sessions() as db:
            found = db.execute(
                select(RevokedSession.session_key).where(RevokedSession.session_key == key)
            ).first()
            return found is not None


def revoke(db: Session, key: str, ends_at: float, reason: str = "sign_out") -> None:
    """Record the session as ended, in the caller's transaction (twice is once); rows of
    sessions whose tokens have all expired anyway go (through the ``expires_at`` index)."""
    now = datetime.now(UTC)
    db.execute(delete(RevokedSession).where(RevokedSession.expires_at < now))
    row = {
        "session_key": key,
        "revoked_at": now,
        "expires_at": datetime.fromtimestamp(ends_at, UTC),
        "reason": reason,
    }
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.execute(insert(RevokedSession).values(row).on_conflict_do_nothing())
