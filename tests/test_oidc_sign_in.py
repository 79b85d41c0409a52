"""Web sign-in at a real OpenID provider (panva's oidc-provider on loopback, tests/oidc/):
authorisation code with PKCE, state and nonce, over real HTTP, on SQLite and PostgreSQL.

In a browser (chromium): the sign-in page sends the person to the provider, they log in there
and come back signed in, with a Secure, HttpOnly, SameSite=Strict session cookie; signing out
revokes the session, so the token the cookie held is refused by the API (401) and by another
worker. Over HTTP: a callback with another state, without the browser's pending sign-in, or
from another issuer is refused; an ID token with another nonce or from another provider is
refused; claims that map to no role or organisation are refused and audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from api_server import free_port
from oidc_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    ProviderUnderTest,
    log_in_at_provider,
    oidc_provider,
)
from playwright.sync_api import Browser
from sqlalchemy import select
from web_support import served

from gateway.access.sessions import ClaimMapping, Revocations
from gateway.access.tokens import TOKEN_COOKIE, InvalidTokenError, LocalIssuer, verifier_from_env
from gateway.api.app import create_app
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry
from gateway.web import oidc

Site = tuple[str, ProviderUnderTest]


@pytest.fixture
def site(index_url: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """The gateway (not in demo mode) signing in at the test provider."""
    port = free_port()
    with oidc_provider(f"http://127.0.0.1:{port}/auth/callback") as provider:
        for name, value in provider.settings().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("EHE_DEMO_MODE", "false")
        with served(create_app(index_url), port) as base:
            yield base, provider


def _audit(index_url: str) -> list[tuple[str, str, str, str | None]]:
    with session_factory(index_url)() as session:
        query = select(AuditEntry).where(AuditEntry.action.in_(("sign_in", "sign_out")))
        entries = session.scalars(query.order_by(AuditEntry.seq))
        return [(e.action, e.outcome, e.actor, e.reason) for e in entries]


def _start(http: httpx.Client) -> tuple[str, str]:
    """Start a sign-in at the gateway: the provider's URL and the pending sign-in cookie."""
    started = http.get("/auth/sign-in")
    assert started.status_code == 303
    cookie = started.cookies[oidc.PENDING_COOKIE]
    set_cookie = started.headers["set-cookie"].lower()
    assert "secure" in set_cookie and "httponly" in set_cookie and "samesite=lax" in set_cookie
    return started.headers["location"], cookie


def _callback(http: httpx.Client, url: str, pending: str | None) -> httpx.Response:
    # Set by hand: the cookie is Secure, and this client would not send it over http.
    headers = {"Cookie": f"{oidc.PENDING_COOKIE}={pending}"} if pending else {}
    return http.get(url, headers=headers)


def test_signing_in_at_the_provider_in_a_browser_and_signing_out_ends_the_session(
    site: Site, browser: Browser, index_url: str
) -> None:
    base, _provider = site
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/")
    assert page.url == f"{base}/sign-in"
    assert page.locator("input[name=user]").count() == 0  # no demo users outside demo mode
    page.click("#sign-in-provider")
    page.fill("input[name=login]", "erin.ehe")
    page.fill("input[name=password]", "any password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")  # through the callback's page, which moves on to "/"
    assert "Signed in as erin.ehe (EHE officer, North Yorkshire Council)" in page.content()
    cookie = next(c for c in context.cookies() if c["name"] == TOKEN_COOKIE)
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    token = cookie["value"]
    with httpx.Client(base_url=base, timeout=10) as api:
        bearer = {"Authorization": f"Bearer {token}"}
        assert api.get("/api/v1/caseload", headers=bearer).status_code == 200
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(f"{base}/sign-in")
        refused = api.get("/api/v1/caseload", headers=bearer)
        assert refused.status_code == 401 and "signed out" in refused.json()["detail"]
    # Another worker (its own verifier and memory, the same database) refuses it too.
    worker = verifier_from_env(Revocations(session_factory(index_url)))
    with pytest.raises(InvalidTokenError, match="signed out"):
        worker.actor(token)
    context.close()
    assert _audit(index_url) == [
        ("sign_in", "signed_in", "erin.ehe", "at the identity provider"),
        ("sign_out", "signed_out", "erin.ehe", None),
    ]


def test_a_callback_with_another_state_or_no_pending_sign_in_is_refused(site: Site) -> None:
    base, provider = site
    with httpx.Client(base_url=base, timeout=10) as http:
        authorize, pending = _start(http)
        asked = parse_qs(urlsplit(authorize).query)
        assert asked["code_challenge_method"] == ["S256"] and asked["code_challenge"]
        assert asked["state"] and asked["nonce"] and asked["client_id"] == [CLIENT_ID]
        back = log_in_at_provider(authorize, "erin.ehe", provider.redirect_uri)
        query = parse_qs(urlsplit(back).query)
        forged = f"{provider.redirect_uri}?{urlencode({**query, 'state': 'another'}, True)}"
        refused = _callback(http, forged, pending)
        assert refused.status_code == 400 and "state does not match" in refused.text
        assert TOKEN_COOKIE not in refused.cookies
        elsewhere = _callback(http, back, None)
        assert elsewhere.status_code == 400 and "no sign-in was started" in elsewhere.text
        mixed_up = f"{back}&iss=http%3A%2F%2F127.0.0.1%3A1"
        assert "another issuer" in _callback(http, mixed_up, pending).text
        # The code was never spent: the genuine answer still signs in.
        signed_in = _callback(http, back, pending)
        assert signed_in.status_code == 200 and TOKEN_COOKIE in signed_in.cookies


def _real_id_token(provider: oidc.Provider, issuer: LocalIssuer, redirect: str) -> tuple[str, str]:
    """An ID token the provider really issued (code flow with PKCE), and its nonce."""
    authorize, pending_cookie = oidc.start(provider, issuer, redirect)
    pending = oidc.pending_sign_in(issuer, pending_cookie)
    back = log_in_at_provider(authorize, "erin.ehe", redirect)
    code = parse_qs(urlsplit(back).query)["code"][0]
    tokens = provider.client(redirect).fetch_token(
        provider.metadata()["token_endpoint"], code=code, code_verifier=pending["verifier"]
    )
    return str(tokens["id_token"]), str(pending["nonce"])


def test_an_id_token_with_another_nonce_or_from_another_provider_is_refused(
    site: Site, tmp_path: Path
) -> None:
    _base, test_provider = site
    issuer = LocalIssuer(key_path=tmp_path / "key.pem")
    provider = oidc.Provider(test_provider.issuer, CLIENT_ID, CLIENT_SECRET)
    id_token, nonce = _real_id_token(provider, issuer, test_provider.redirect_uri)
    assert oidc.verify_id_token(provider, id_token, nonce)["sub"] == "erin.ehe"
    with pytest.raises(oidc.SignInRefusedError, match="ID token is not valid"):
        oidc.verify_id_token(provider, id_token, "another sign-in's nonce")
    with oidc_provider(test_provider.redirect_uri) as other:
        stranger = oidc.Provider(other.issuer, CLIENT_ID, CLIENT_SECRET)
        foreign, foreign_nonce = _real_id_token(stranger, issuer, other.redirect_uri)
        with pytest.raises(oidc.SignInRefusedError, match="ID token is not valid"):
            oidc.verify_id_token(provider, foreign, foreign_nonce)  # signed by another key
    wrong_audience = oidc.Provider(test_provider.issuer, "another-client", CLIENT_SECRET)
    with pytest.raises(oidc.SignInRefusedError, match="ID token is not valid"):
        oidc.verify_id_token(wrong_audience, id_token, nonce)


@pytest.mark.parametrize(
    ("user", "reason"),
    [("olly.outsider", "no single organisation"), ("nora.norole", "0 gateway roles")],
)
def test_claims_that_map_to_no_role_or_organisation_are_refused_and_audited(
    site: Site, index_url: str, user: str, reason: str
) -> None:
    base, provider = site
    with httpx.Client(base_url=base, timeout=10) as http:
        authorize, pending = _start(http)
        back = log_in_at_provider(authorize, user, provider.redirect_uri)
        refused = _callback(http, back, pending)
    assert refused.status_code == 400 and reason in refused.text
    assert TOKEN_COOKIE not in refused.cookies
    [(action, outcome, actor, why)] = _audit(index_url)
    assert (action, outcome, actor) == ("sign_in", "refused_sign_in", user)
    assert reason in (why or "")


def test_roles_and_organisations_map_from_nested_and_listed_claims() -> None:
    keycloak = ClaimMapping(
        user_claim="preferred_username",
        role_claim="realm_access.roles",
        organisation_claim="organisation",
        role_map={"ehe-officer": "ehe_officer"},
    )
    claims = {
        "sub": "f3a1",
        "preferred_username": "erin.ehe",
        "organisation": "North Yorkshire Council",
        "realm_access": {"roles": ["offline_access", "ehe-officer"]},
    }
    actor = keycloak.actor(claims)
    assert (actor.user, actor.role, actor.organisation) == (
        "erin.ehe",
        "ehe_officer",
        "North Yorkshire Council",
    )


def test_discovery_read_by_another_name_must_still_name_the_issuer(tmp_path: Path) -> None:
    """EHE_OIDC_DISCOVERY_URL (docker-compose.yml: the gateway reaches Keycloak as
    ``keycloak:8080``, browsers as ``localhost:8180``): the code flow works through it, and a
    discovery document naming another issuer is refused."""
    redirect = f"http://127.0.0.1:{free_port()}/auth/callback"
    with oidc_provider(redirect) as test_provider:
        port = urlsplit(test_provider.issuer).port
        by_another_name = f"http://localhost:{port}/.well-known/openid-configuration"
        provider = oidc.Provider(
            test_provider.issuer, CLIENT_ID, CLIENT_SECRET, discovery_url=by_another_name
        )
        assert provider.metadata()["issuer"] == test_provider.issuer
        issuer = LocalIssuer(key_path=tmp_path / "key.pem")
        id_token, nonce = _real_id_token(provider, issuer, redirect)
        assert oidc.verify_id_token(provider, id_token, nonce)["sub"] == "erin.ehe"
        elsewhere = oidc.Provider(
            "http://localhost:8180/realms/ehe",
            CLIENT_ID,
            CLIENT_SECRET,
            discovery_url=by_another_name,
        )
        with pytest.raises(oidc.SignInRefusedError, match="names another issuer"):
            elsewhere.metadata()
