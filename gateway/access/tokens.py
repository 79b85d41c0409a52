"""OIDC bearer tokens: verified properly (signature, expiry, issuer, audience, RS256 only),
within a maximum lifetime, and refused once their session has been signed out.

Production points ``EHE_OIDC_ISSUER``, ``EHE_OIDC_AUDIENCE`` and ``EHE_OIDC_JWKS_URL`` at the
organisation's identity provider; its tokens' claims are mapped to a role and organisation by
``gateway.access.sessions.ClaimMapping``. The gateway is also its own local issuer: an RSA key
made on first use under the data folder (never committed), its public half served as JWKS by
the API. It signs the web sessions (after sign-in at the provider, or as a demo user in demo
mode) and the demo users' tokens (``ehe-gateway token``).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from gateway import config
from gateway.access.audit import Actor
from gateway.access.sessions import (
    RECHECK_SECONDS,
    ClaimMapping,
    ClaimsRefusedError,
    Revocations,
    check_lifetime,
    session_key,
)
from gateway.access.users import DemoUser
from gateway.errors import GatewayError
from gateway.settings import DEFAULT_AUDIENCE, LOCAL_ISSUER, settings

ALGORITHM = "RS256"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
VERIFIED_TOKENS_KEPT = 10_000

# The cookie that carries a web session's token (the API reads it as a bearer token too).
TOKEN_COOKIE = "ehe_token"  # noqa: S105 (a cookie name, not a secret)


class InvalidTokenError(GatewayError):
    """A bearer token was missing, malformed, expired, for someone else, or badly signed."""


@dataclass(frozen=True)
class TokenSettings:
    """Whose tokens are accepted: the identity provider's (issuer, audience, JWKS URL), and
    for how long at most; the local issuer's (the web sessions and the demo) always."""

    issuer: str = LOCAL_ISSUER
    audience: str = DEFAULT_AUDIENCE
    jwks_url: str | None = None
    leeway_seconds: int = 30
    max_lifetime_seconds: int = 8 * 60 * 60
    idle_seconds: int = 30 * 60
    claims: ClaimMapping = field(default_factory=ClaimMapping)

    @classmethod
    def from_env(cls) -> TokenSettings:
        return cls(
            issuer=settings().oidc_issuer,
            audience=settings().oidc_audience,
            jwks_url=settings().oidc_jwks_url,
            max_lifetime_seconds=settings().session_max_minutes * 60,
            idle_seconds=settings().session_idle_minutes * 60,
            claims=ClaimMapping.from_env(),
        )


@dataclass(frozen=True)
class VerifiedToken:
    """A token whose signature and claims were checked: who, which session, until when."""

    actor: Actor
    session_key: str
    ends_at: float  # its expiry, or the maximum lifetime since sign-in if sooner
    local: bool  # signed by this gateway (a web session, the demo), not the provider
    sid: str | None = None
    auth_time: float | None = None
    # The OAuth scopes it was granted (``scope``, space-separated, or a ``scp`` list); None if
    # it names none (the gateway's own sessions, or a provider that grants no scopes).
    scopes: frozenset[str] | None = None


def local_key_path() -> Path:
    return config.data_dir() / "keys" / "local_issuer.pem"


class LocalIssuer:
    """The demo's identity provider: one RSA key under the data folder, made on first use."""

    def __init__(self, settings: TokenSettings | None = None, key_path: Path | None = None):
        self.settings = settings or TokenSettings.from_env()
        self.key_path = key_path or local_key_path()
        self._key: rsa.RSAPrivateKey | None = None

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        if self._key is None:
            self._key = _load_or_make_key(self.key_path)
        return self._key

    @property
    def key_id(self) -> str:
        numbers = self.private_key.public_key().public_numbers()
        return hashlib.sha256(str(numbers.n).encode()).hexdigest()[:16]

    def jwks(self) -> dict[str, Any]:
        """The public key as a JSON Web Key Set (served at /.well-known/jwks.json)."""
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update({"kid": self.key_id, "use": "sig", "alg": ALGORITHM})
        return {"keys": [jwk]}

    def issue(
        self, user: DemoUser, lifetime_seconds: int = 3600, scopes: Sequence[str] = ()
    ) -> str:
        """A bearer token for a demo user (``ehe-gateway token``, tests), with a ``scope``
        claim if ``scopes`` are given (SMART on FHIR style: ``user/Flag.rs``)."""
        actor = Actor(user.name, user.organisation, user.role)
        extra: dict[str, Any] = {"name": user.display_name}
        if scopes:
            extra["scope"] = " ".join(scopes)
        return self._sign(actor, int(time.time()), lifetime_seconds, extra)

    def issue_session(self, actor: Actor, sid: str, auth_time: float) -> str:
        """A web session's token: it ends after the idle time (each page shown renews it) or
        the maximum lifetime since sign-in (``auth_time``), the sooner."""
        now = int(time.time())
        ends = min(now + self.settings.idle_seconds, auth_time + self.settings.max_lifetime_seconds)
        extra = {"sid": sid, "auth_time": int(auth_time)}
        return self._sign(actor, now, max(0, int(ends) - now), extra)

    def _sign(self, actor: Actor, now: int, lifetime: int, extra: dict[str, Any]) -> str:
        claims = {
            "iss": LOCAL_ISSUER,
            "aud": self.settings.audience,
            "sub": actor.user,
            "organisation": actor.organisation,
            "role": actor.role,
            "iat": now,
            "exp": now + lifetime,
            **extra,
        }
        return jwt.encode(claims, self.private_key, ALGORITHM, headers={"kid": self.key_id})


def _load_or_make_key(path: Path) -> rsa.RSAPrivateKey:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(pem)
        temporary.chmod(0o600)
        try:
            os.link(temporary, path)  # first writer wins; a racing one reads the winner's key
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise InvalidTokenError(f"{path.name} does not hold an RSA private key")
    return loaded


class TokenVerifier:
    """Turns a bearer token into the actor it names, or refuses it with the reason.

    Tokens of the identity provider (``settings.issuer``, keys from its JWKS) and of the local
    issuer (this gateway's web sessions and the demo) are accepted, each checked against its
    own issuer's key. A token whose signature and claims have been checked is remembered (by
    its SHA-256, not the token itself) until its session ends; whether it has been signed out
    is asked again (one primary-key read) when the last answer is ``RECHECK_SECONDS`` old.
    Refusals are never remembered.
    """

    def __init__(
        self,
        settings: TokenSettings,
        local: LocalIssuer | None = None,
        revocations: Revocations | None = None,
    ) -> None:
        self.settings = settings
        self.local = local
        self.revocations = revocations
        self._jwks = jwt.PyJWKClient(settings.jwks_url) if settings.jwks_url else None
        # SHA-256 of the token -> (what it holds, when revocation was last asked). A plain
        # dict: a lookup on every request must cost next to nothing; it is emptied of ended
        # tokens when it grows too big.
        self._verified: dict[bytes, tuple[VerifiedToken, float]] = {}
        self._verified_lock = threading.Lock()

    def remembered(self, token: str) -> Actor | None:
        """The actor of a token verified, and found not signed out, in the last few seconds
        and whose session has not ended, else None (no I/O)."""
        verified = self.remembered_token(token)
        return verified.actor if verified else None

    def remembered_token(self, token: str) -> VerifiedToken | None:
        """``remembered``, with all the token holds (its scopes too)."""
        found = self._verified.get(_token_key(token))
        if found is None:
            return None
        now = time.time()
        verified, checked = found
        if verified.ends_at <= now or now - checked >= RECHECK_SECONDS:
            return None
        return verified

    def forget(self, token: str) -> None:
        """Drop a token from memory (its session was just signed out in this worker)."""
        with self._verified_lock:
            self._verified.pop(_token_key(token), None)

    def _remember(self, token: str, verified: VerifiedToken) -> None:
        with self._verified_lock:
            now = time.time()
            if len(self._verified) >= VERIFIED_TOKENS_KEPT:
                kept = {k: v for k, v in self._verified.items() if v[0].ends_at > now}
                self._verified = kept if len(kept) < VERIFIED_TOKENS_KEPT // 2 else {}
            self._verified[_token_key(token)] = (verified, now)

    def actor(self, token: str) -> Actor:
        """Verify the token (or find it verified already) and name its actor."""
        return self.verify(token).actor

    def verify(self, token: str) -> VerifiedToken:
        """Check the token (signature, claims, lifetime, not signed out) or refuse it."""
        found = self._verified.get(_token_key(token))
        now = time.time()
        verified = found[0] if found and found[0].ends_at > now else None
        if verified is not None and found is not None and now - found[1] < RECHECK_SECONDS:
            return verified  # checked, and found not signed out, seconds ago
        if verified is None:
            verified = self._check(token)
        if self.revocations is not None and self.revocations.is_revoked(verified.session_key):
            raise InvalidTokenError("the session has been signed out; sign in again")
        self._remember(token, verified)
        return verified

    def _check(self, token: str) -> VerifiedToken:
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(f"the token is not valid: {type(exc).__name__}") from None
        if self._jwks is not None and issuer == self.settings.issuer:
            local, mapping = False, self.settings.claims
        elif self.local is not None and issuer == LOCAL_ISSUER:
            local, mapping = True, ClaimMapping()
        else:
            raise InvalidTokenError("the token is not valid: InvalidIssuerError")
        try:
            claims = jwt.decode(
                token,
                self._local_key() if local else self._provider_key(token),
                algorithms=[ALGORITHM],
                audience=self.settings.audience,
                issuer=issuer,
                leeway=self.settings.leeway_seconds,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidTokenError("the token has expired") from None
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(f"the token is not valid: {type(exc).__name__}") from None
        try:
            ends_at = check_lifetime(
                claims,
                time.time(),
                self.settings.max_lifetime_seconds,
                self.settings.leeway_seconds,
            )
            actor = mapping.actor(claims)
        except ClaimsRefusedError as exc:
            raise InvalidTokenError(str(exc)) from None
        auth_time = claims.get("auth_time")
        return VerifiedToken(
            actor,
            session_key(str(issuer), claims, token),
            ends_at,
            local,
            sid=str(claims["sid"]) if claims.get("sid") else None,
            auth_time=float(auth_time) if isinstance(auth_time, int | float) else None,
            scopes=scopes_of(claims),
        )

    def _local_key(self) -> Any:
        if self.local is None:
            raise InvalidTokenError("no JWKS configured to check token signatures")
        return self.local.private_key.public_key()

    def _provider_key(self, token: str) -> Any:
        if self._jwks is None:
            raise InvalidTokenError("no JWKS configured to check token signatures")
        return self._jwks.get_signing_key_from_jwt(token).key


def scopes_of(claims: dict[str, Any]) -> frozenset[str] | None:
    """The scopes a token was granted: ``scope`` (RFC 8693, space-separated) or ``scp`` (a
    list, as some providers send); None if it has neither claim."""
    granted = claims.get("scope", claims.get("scp"))
    if granted is None:
        return None
    values = granted.split() if isinstance(granted, str) else granted
    if not isinstance(values, list):
        return frozenset()
    return frozenset(v for v in values if isinstance(v, str) and v)


def _token_key(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def verifier_from_env(revocations: Revocations | None = None) -> TokenVerifier:
    """The provider's tokens (if configured) and the local issuer's (web sessions, demo)."""
    settings = TokenSettings.from_env()
    return TokenVerifier(settings, LocalIssuer(settings), revocations)
