"""Sessions that end, on SQLite and PostgreSQL: sign-out revokes the session for every API
worker (the revoked_session table), no token is accepted past the maximum lifetime whatever
its exp says, an idle web session ends and a page renews it, sign-in and sign-out are
audited, and the passwordless demo sign-in exists only in demo mode, on loopback."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from typer.testing import CliRunner
from web_support import served

from gateway.access import tokens
from gateway.access.audit import Actor
from gateway.access.sessions import ClaimMapping, Revocations, revoke
from gateway.access.tokens import (
    TOKEN_COOKIE,
    InvalidTokenError,
    LocalIssuer,
    TokenSettings,
    TokenVerifier,
)
from gateway.access.users import load_demo_users
from gateway.api.app import create_app
from gateway.cli import app as cli
from gateway.cli.serve import is_loopback
from gateway.errors import FatalConfigError
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry, RevokedSession

ERIN = Actor("erin.ehe", "North Yorkshire Council", "ehe_officer")
HOUR = 3600


@pytest.fixture
def workers(index_url: str, data_dir: Path) -> Iterator[tuple[str, str]]:
    """Two API workers (apps with their own verifier and memory) on one index."""
    with ExitStack() as stack:
        yield (
            stack.enter_context(served(create_app(index_url))),
            stack.enter_context(served(create_app(index_url))),
        )


def _csrf(client: httpx.Client) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text)
    assert found
    return found.group(1)


def test_sign_out_revokes_the_session_for_every_worker_and_both_are_audited(
    workers: tuple[str, str], index_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = workers
    with httpx.Client(base_url=first) as web, httpx.Client(base_url=second) as other:
        signed_in = web.post("/sign-in", data={"user": "erin.ehe"})
        assert signed_in.status_code == 303
        token = signed_in.cookies[TOKEN_COOKIE]
        bearer = {"Authorization": f"Bearer {token}"}
        assert web.get("/api/v1/caseload", headers=bearer).status_code == 200
        assert other.get("/api/v1/caseload", headers=bearer).status_code == 200
        assert web.post("/sign-out", data={"csrf": _csrf(web)}).status_code == 303
        reused = httpx.get(f"{first}/api/v1/caseload", headers=bearer)
        assert reused.status_code == 401 and "signed out" in reused.json()["detail"]
        # The other worker remembered the token; it asks the table again within seconds.
        monkeypatch.setattr(tokens, "RECHECK_SECONDS", 0.0)
        assert other.get("/api/v1/caseload", headers=bearer).status_code == 401
        web.cookies.set(TOKEN_COOKIE, token)  # the cookie kept (copied) after sign-out
        assert web.get("/").headers.get("location") == "/sign-in"
    with session_factory(index_url)() as db:
        entries = [
            (e.action, e.outcome, e.actor, e.reason)
            for e in db.query(AuditEntry).order_by(AuditEntry.seq)
            if e.action in {"sign_in", "sign_out"}  # the caseloads shown are audited too
        ]
        assert db.query(RevokedSession).count() == 1
    assert entries == [
        ("sign_in", "signed_in", "erin.ehe", "as a demo user (demo mode)"),
        ("sign_out", "signed_out", "erin.ehe", None),
    ]


def test_revoking_twice_is_once_and_ended_sessions_are_forgotten(index_url: str) -> None:
    sessions = session_factory(index_url)
    now = time.time()
    with sessions.begin() as db:
        revoke(db, "a" * 64, now - HOUR)  # its tokens all expired an hour ago
    with sessions.begin() as db:
        revoke(db, "b" * 64, now + HOUR)
        revoke(db, "b" * 64, now + HOUR)
    revocations = Revocations(sessions)
    assert revocations.is_revoked("b" * 64) and not revocations.is_revoked("a" * 64)
    with sessions() as db:
        assert db.query(RevokedSession.session_key).all() == [("b" * 64,)]


def _signed(issuer: LocalIssuer, **claims: object) -> str:
    now = int(time.time())
    body: dict[str, object] = {
        "iss": tokens.LOCAL_ISSUER,
        "aud": "ehe-gateway",
        "sub": ERIN.user,
        "organisation": ERIN.organisation,
        "role": ERIN.role,
        "iat": now,
        "exp": now + 300,
    }
    body.update(claims)
    return jwt.encode(body, issuer.private_key, "RS256")


def test_no_token_is_accepted_past_the_maximum_lifetime(tmp_path: Path) -> None:
    issuer = LocalIssuer(key_path=tmp_path / "key.pem")
    verifier = TokenVerifier(TokenSettings(max_lifetime_seconds=8 * HOUR), issuer)
    ten_years = issuer.issue(load_demo_users()["erin.ehe"], lifetime_seconds=10 * 365 * 86400)
    with pytest.raises(InvalidTokenError, match="lifetime is longer"):
        verifier.actor(ten_years)
    now = int(time.time())
    old_session = _signed(issuer, sid="s1", auth_time=now - 9 * HOUR)
    with pytest.raises(InvalidTokenError, match="older than this service accepts"):
        verifier.actor(old_session)
    # A session renewed near its end is remembered only until the maximum, not its exp.
    near_end = _signed(issuer, sid="s2", auth_time=now - 8 * HOUR + 60)
    assert verifier.verify(near_end).ends_at <= now + 61


def test_an_idle_session_ends_and_a_page_shown_renews_it(index_url: str, data_dir: Path) -> None:
    issuer = LocalIssuer()
    app = create_app(index_url)
    idle = app.state.token_verifier.settings.idle_seconds
    now = int(time.time())
    sid = secrets.token_urlsafe(8)
    ageing = _signed(issuer, sid=sid, auth_time=now - 600, iat=now - idle + 30, exp=now + 30)
    lapsed = _signed(issuer, sid=sid, auth_time=now - 600, iat=now - idle - 60, exp=now - 60)
    with served(app) as base, httpx.Client(base_url=base) as web:
        shown = web.get("/", cookies={TOKEN_COOKIE: ageing})
        assert shown.status_code == 200
        renewed = jwt.decode(shown.cookies[TOKEN_COOKIE], options={"verify_signature": False})
        assert renewed["sid"] == sid and renewed["auth_time"] == now - 600
        assert renewed["exp"] >= now + idle - 5
        web.cookies.clear()
        gone = web.get("/", cookies={TOKEN_COOKIE: lapsed})
        assert gone.status_code == 303 and gone.headers["location"] == "/sign-in"


def test_the_demo_sign_in_is_refused_outside_demo_mode(index_url: str, data_dir: Path) -> None:
    with served(create_app(index_url, demo_mode=False)) as base, httpx.Client(base_url=base) as web:
        form = web.get("/sign-in")
        assert form.status_code == 200 and 'name="user"' not in form.text
        assert "Sign-in is not configured" in form.text
        refused = web.post("/sign-in", data={"user": "iris.ig"})
        assert refused.status_code == 403 and TOKEN_COOKIE not in refused.cookies


def test_serve_refuses_demo_mode_on_an_address_other_than_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EHE_DEMO_MODE", "true")
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 4
    assert "demo mode" in result.output and len(result.output.strip().splitlines()) == 1
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.5")


def test_revoked_rows_expire_with_the_sessions(index_url: str) -> None:
    """The table keeps a session only while one of its tokens could still be accepted."""
    sessions = session_factory(index_url)
    with sessions.begin() as db:
        revoke(db, "c" * 64, time.time() + 60)
    with sessions() as db:
        row = db.get(RevokedSession, "c" * 64)
        assert row is not None and row.reason == "sign_out"
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
        assert expires - datetime.now(UTC) < timedelta(seconds=61)


def test_a_role_map_naming_an_unknown_role_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EHE_OIDC_ROLE_MAP", '{"EHE.Officer": "wizard"}')
    with pytest.raises(FatalConfigError, match="EHE_OIDC_ROLE_MAP"):
        ClaimMapping.from_env()
