"""Sign-in at the identity provider: OpenID Connect authorisation code flow with PKCE, state
and nonce (Authlib's OAuth 2 client; the ID token checked with joserfc, Authlib's JOSE).

``start`` sends the browser to the provider with a fresh state, nonce and PKCE verifier (S256),
kept meanwhile in a short-lived cookie signed by the gateway's own key (path ``/auth``,
HttpOnly, SameSite=Lax: the provider's redirect back is a cross-site navigation). ``finish``
takes the provider's answer: the state must be the cookie's, the code is exchanged (with the
client secret and the PKCE verifier) for tokens, and the ID token must be signed by a key of
the provider's JWKS, for this client (``aud``, ``azp``), from this issuer, unexpired and with
this sign-in's nonce. Its claims are mapped to a role and organisation by ``ClaimMapping``.
Secrets and tokens are never logged; a refusal says which check failed, never a value.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt as pyjwt
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from gateway.access.sessions import ClaimMapping
from gateway.access.tokens import LocalIssuer
from gateway.errors import GatewayError
from gateway.settings import LOCAL_ISSUER, settings

log = logging.getLogger(__name__)

CALLBACK_PATH = "/auth/callback"
PENDING_COOKIE = "ehe_sign_in"
PENDING_SECONDS = 600
PENDING_AUDIENCE = "ehe-gateway:sign-in"
ID_TOKEN_ALGORITHMS = ["RS256", "PS256", "ES256"]
LEEWAY_SECONDS = 30
HTTP_TIMEOUT_SECONDS = 10.0


class SignInRefusedError(GatewayError):
    """The provider's answer failed a check (state, code, ID token, claims): no session."""


@dataclass
class Provider:
    """The identity provider the web sign-in uses, from the OIDC settings."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: str = "openid profile"
    redirect_url: str | None = None
    discovery_url: str | None = None
    claims: ClaimMapping = field(default_factory=ClaimMapping)
    _metadata: dict[str, Any] | None = field(default=None, repr=False)
    _keys: KeySet | None = field(default=None, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @classmethod
    def from_env(cls) -> Provider | None:
        """The configured provider, or None (no client id, or the issuer is the local one)."""
        client_id, secret = settings().oidc_client_id, settings().oidc_client_secret
        if not client_id or settings().oidc_issuer == LOCAL_ISSUER:
            return None
        return cls(
            issuer=settings().oidc_issuer,
            client_id=client_id,
            client_secret=secret.get_secret_value() if secret else "",
            scopes=settings().oidc_scopes,
            redirect_url=settings().oidc_redirect_url,
            discovery_url=settings().oidc_discovery_url,
            claims=ClaimMapping.from_env(),
        )

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (fetched once), checked to name this issuer.

        It is read from ``discovery_url`` when set: in a container network the gateway reaches
        the provider by another name than browsers do (Keycloak's backchannel), yet the issuer
        it names must still be this one."""
        with self._lock:
            if self._metadata is None:
                url = self.discovery_url or (
                    self.issuer.rstrip("/") + "/.well-known/openid-configuration"
                )
                found = _get_json(url)
                if found.get("issuer") != self.issuer:
                    raise SignInRefusedError("the provider's discovery names another issuer")
                self._metadata = found
            return self._metadata

    def keys(self, refresh: bool = False) -> KeySet:
        """The provider's signing keys (fetched again when a token names a key not held)."""
        with self._lock:
            if self._keys is None or refresh:
                self._keys = KeySet.import_key_set(_get_json(self.metadata()["jwks_uri"]))  # type: ignore[arg-type]
            return self._keys

    def client(self, redirect_uri: str) -> OAuth2Session:
        return OAuth2Session(
            self.client_id,
            self.client_secret,
            scope=self.scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
        )


def _get_json(url: str) -> dict[str, Any]:
    try:
        answer = httpx.get(url, timeout=HTTP_TIMEOUT_SECONDS)
        answer.raise_for_status()
        found = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        kind = type(exc).__name__
        raise SignInRefusedError(f"the identity provider did not answer: {kind}") from None
    if not isinstance(found, dict):
        raise SignInRefusedError("the identity provider's answer is not a JSON object")
    return found


def start(provider: Provider, issuer: LocalIssuer, redirect_uri: str) -> tuple[str, str]:
    """Where to send the browser, and the pending sign-in's cookie value (signed, 10 min)."""
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    url, _ = provider.client(redirect_uri).create_authorization_url(
        provider.metadata()["authorization_endpoint"],
        state=state,
        code_verifier=verifier,
        nonce=nonce,
    )
    now = int(time.time())
    pending = {
        "aud": PENDING_AUDIENCE,
        "iat": now,
        "exp": now + PENDING_SECONDS,
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
    }
    return url, pyjwt.encode(pending, issuer.private_key, "RS256")


def pending_sign_in(issuer: LocalIssuer, cookie: str | None) -> dict[str, Any]:
    """The pending sign-in this browser started, or ``SignInRefusedError``."""
    if not cookie:
        raise SignInRefusedError("no sign-in was started in this browser (or it took too long)")
    try:
        found: dict[str, Any] = pyjwt.decode(
            cookie,
            issuer.private_key.public_key(),
            algorithms=["RS256"],
            audience=PENDING_AUDIENCE,
            options={"require": ["exp", "state", "nonce", "verifier"]},
        )
    except pyjwt.PyJWTError:
        raise SignInRefusedError("the sign-in was started too long ago or not here") from None
    return found


def finish(
    provider: Provider, pending: dict[str, Any], params: dict[str, str], redirect_uri: str
) -> dict[str, Any]:
    """The ID token's verified claims for the provider's answer ``params`` (the callback's
    query), or ``SignInRefusedError`` naming the check that failed."""
    if "error" in params:
        raise SignInRefusedError(f"the identity provider refused: {params['error'][:60]}")
    if not secrets.compare_digest(params.get("state", ""), str(pending["state"])):
        raise SignInRefusedError("the sign-in's state does not match the one this browser sent")
    if "iss" in params and params["iss"] != provider.issuer:  # RFC 9207: mix-up defence
        raise SignInRefusedError("the answer comes from another issuer")
    code = params.get("code")
    if not code:
        raise SignInRefusedError("the identity provider sent no authorisation code")
    try:
        tokens = provider.client(redirect_uri).fetch_token(
            provider.metadata()["token_endpoint"],
            code=code,
            code_verifier=pending["verifier"],
            timeout=HTTP_TIMEOUT_SECONDS,
        )
    except Exception as exc:  # Authlib's OAuthError, requests' errors: name the kind only
        raise SignInRefusedError(f"the code was not exchanged: {type(exc).__name__}") from None
    id_token = tokens.get("id_token")
    if not isinstance(id_token, str):
        raise SignInRefusedError("the identity provider sent no ID token")
    return verify_id_token(provider, id_token, str(pending["nonce"]))


def verify_id_token(provider: Provider, id_token: str, nonce: str) -> dict[str, Any]:
    """The claims of an ID token signed by the provider, for this client, with this nonce."""
    try:
        try:
            token = jwt.decode(id_token, provider.keys(), algorithms=ID_TOKEN_ALGORITHMS)
        except ValueError:  # a key id the set does not hold: the provider rotated its keys
            token = jwt.decode(id_token, provider.keys(True), algorithms=ID_TOKEN_ALGORITHMS)
        jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": provider.issuer},
            aud={"essential": True, "value": provider.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise SignInRefusedError(f"the ID token is not valid: {type(exc).__name__}") from None
    claims = dict(token.claims)
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != provider.client_id:
        raise SignInRefusedError("the ID token is not valid: it was issued to another party")
    return claims
