"""OIDC bearer tokens: verified properly (signature, expiry, issuer, audience, RS256 only).

Production points ``EHE_OIDC_ISSUER``, ``EHE_OIDC_AUDIENCE`` and ``EHE_OIDC_JWKS_URL`` at the
organisation's identity provider. With no JWKS URL, the gateway is its own local issuer for the
demo and tests: an RSA key made on first use under the data folder (never committed), its
public half served as JWKS by the API, and tokens for the demo users in ``access/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from gateway import config
from gateway.access.audit import Actor
from gateway.access.roles import ROLES
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
    issuer: str = LOCAL_ISSUER
    audience: str = DEFAULT_AUDIENCE
    jwks_url: str | None = None
    leeway_seconds: int = 30

    @classmethod
    def from_env(cls) -> TokenSettings:
        return cls(
            issuer=settings().oidc_issuer,
            audience=settings().oidc_audience,
            jwks_url=settings().oidc_jwks_url,
        )


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

    def issue(self, user: DemoUser, lifetime_seconds: int = 3600) -> str:
        now = int(time.time())
        claims = {
            "iss": self.settings.issuer,
            "aud": self.settings.audience,
            "sub": user.name,
            "name": user.display_name,
            "organisation": user.organisation,
            "role": user.role,
            "iat": now,
            "exp": now + lifetime_seconds,
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

    A token whose signature and claims have been checked is remembered (by its SHA-256, not
    the token itself) until it expires, so a client sending the same token on every request
    costs one signature check, not one a request. Refusals are never remembered.
    """

    def __init__(self, settings: TokenSettings, local: LocalIssuer | None = None) -> None:
        self.settings = settings
        self.local = local
        self._jwks = jwt.PyJWKClient(settings.jwks_url) if settings.jwks_url else None
        # SHA-256 of the token -> (actor, expiry). A plain dict: a lookup on every request
        # must cost next to nothing; it is emptied of expired tokens when it grows too big.
        self._verified: dict[bytes, tuple[Actor, float]] = {}
        self._verified_lock = threading.Lock()

    def remembered(self, token: str) -> Actor | None:
        """The actor of a token verified before and not yet expired, else None (no I/O)."""
        found = self._verified.get(_token_key(token))
        if found is None or found[1] <= time.time():
            return None
        return found[0]

    def _remember(self, token: str, actor: Actor, expires: float) -> None:
        with self._verified_lock:
            if len(self._verified) >= VERIFIED_TOKENS_KEPT:
                now = time.time()
                kept = {k: v for k, v in self._verified.items() if v[1] > now}
                self._verified = kept if len(kept) < VERIFIED_TOKENS_KEPT // 2 else {}
            self._verified[_token_key(token)] = (actor, expires)

    def _key_for(self, token: str) -> Any:
        if self._jwks is not None:
            return self._jwks.get_signing_key_from_jwt(token).key
        if self.local is None:
            raise InvalidTokenError("no JWKS configured to check token signatures")
        return self.local.private_key.public_key()

    def actor(self, token: str) -> Actor:
        """Verify the token (or find it verified already) and name its actor."""
        known = self.remembered(token)
        if known is not None:
            return known
        try:
            claims = jwt.decode(
                token,
                self._key_for(token),
                algorithms=[ALGORITHM],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_seconds,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidTokenError("the token has expired") from None
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(f"the token is not valid: {type(exc).__name__}") from None
        actor = _actor_from(claims)
        self._remember(token, actor, float(claims["exp"]))  # until expiry, without the leeway
        return actor


def _token_key(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _actor_from(claims: dict[str, Any]) -> Actor:
    organisation, role = claims.get("organisation"), claims.get("role")
    if not isinstance(organisation, str) or not organisation:
        raise InvalidTokenError("the token names no organisation")
    if role not in ROLES:
        raise InvalidTokenError(f"the token's role is not one of: {', '.join(ROLES)}")
    return Actor(str(claims["sub"])[:120], organisation[:120], str(role))


def verifier_from_env() -> TokenVerifier:
    settings = TokenSettings.from_env()
    return TokenVerifier(settings, None if settings.jwks_url else LocalIssuer(settings))
