"""Bearer tokens are checked properly: signature, expiry, issuer, audience, RS256 only."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from api_server import serving
from fastapi import FastAPI

from gateway.access.tokens import (
    InvalidTokenError,
    LocalIssuer,
    TokenSettings,
    TokenVerifier,
)
from gateway.access.users import load_demo_users
from gateway.errors import FatalConfigError


@pytest.fixture
def issuer(tmp_path: Path) -> LocalIssuer:
    return LocalIssuer(TokenSettings(), key_path=tmp_path / "keys" / "issuer.pem")


def _claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": TokenSettings().issuer,
        "aud": TokenSettings().audience,
        "sub": "erin.ehe",
        "organisation": "North Yorkshire Council",
        "role": "ehe_officer",
        "iat": now,
        "exp": now + 300,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def test_a_demo_users_token_names_the_actor(issuer: LocalIssuer) -> None:
    users = load_demo_users()
    assert {u.role for u in users.values()} == {
        "ehe_officer",
        "social_worker",
        "health_practitioner",
        "data_engineer",
        "ig_officer",
        "admin",
    }
    actor = TokenVerifier(TokenSettings(), issuer).actor(issuer.issue(users["iris.ig"]))
    assert (actor.user, actor.role) == ("iris.ig", "ig_officer")
    assert actor.organisation == users["iris.ig"].organisation
    assert (issuer.key_path.stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"aud": "someone-else"}, "InvalidAudienceError"),
        ({"iss": "https://evil.example"}, "InvalidIssuerError"),
        ({"exp": None}, "MissingRequiredClaimError"),
        ({"role": "superuser"}, "role"),
        ({"organisation": ""}, "organisation"),
    ],
)
def test_bad_claims_are_refused(
    issuer: LocalIssuer, changes: dict[str, object], reason: str
) -> None:
    token = jwt.encode(_claims(**changes), issuer.private_key, "RS256")
    with pytest.raises(InvalidTokenError, match=reason):
        TokenVerifier(TokenSettings(), issuer).actor(token)


def test_signatures_and_algorithm_are_enforced(issuer: LocalIssuer, tmp_path: Path) -> None:
    verifier = TokenVerifier(TokenSettings(), issuer)
    stranger = LocalIssuer(TokenSettings(), key_path=tmp_path / "other.pem")
    with pytest.raises(InvalidTokenError, match="InvalidSignatureError"):
        verifier.actor(jwt.encode(_claims(), stranger.private_key, "RS256"))
    unsigned = jwt.encode(_claims(), None, "none")
    with pytest.raises(InvalidTokenError):
        verifier.actor(unsigned)
    hmac = jwt.encode(_claims(), "a shared secret of thirty-two bytes!", "HS256")
    with pytest.raises(InvalidTokenError, match="InvalidAlgorithmError"):
        verifier.actor(hmac)  # only RS256 is accepted, whatever the header says
    header, body, signature = issuer.issue(load_demo_users()["erin.ehe"]).split(".")
    tampered_body = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(body).replace(b"ehe_officer", b"ig_officer\x20")
    ).decode()
    with pytest.raises(InvalidTokenError):
        verifier.actor(f"{header}.{tampered_body}.{signature}")


def test_a_verified_token_is_remembered_until_it_expires(issuer: LocalIssuer) -> None:
    """Checked once, then known by its hash; refused tokens, and expired ones, never are."""
    verifier = TokenVerifier(TokenSettings(), issuer)
    token = issuer.issue(load_demo_users()["erin.ehe"])
    assert verifier.remembered(token) is None
    actor = verifier.actor(token)
    assert verifier.remembered(token) == actor
    assert token.encode() not in b"".join(verifier._verified)  # kept by hash, not as sent
    header, body, signature = token.split(".")
    forged = f"{header}.{body}.{signature[:-4]}AAAA"
    with pytest.raises(InvalidTokenError):
        verifier.actor(forged)  # the same claims do not make a remembered token of it
    assert verifier.remembered(forged) is None
    # Within the leeway a just-expired token still verifies, but is not remembered past expiry.
    lapsed = jwt.encode(_claims(exp=int(time.time()) - 5), issuer.private_key, "RS256")
    assert verifier.actor(lapsed).user == "erin.ehe"
    assert verifier.remembered(lapsed) is None


def test_verifies_with_a_jwks_fetched_over_http(issuer: LocalIssuer) -> None:
    jwks_app = FastAPI()
    jwks_app.get("/.well-known/jwks.json")(issuer.jwks)
    with serving(jwks_app) as client:
        url = f"{client.base_url}/.well-known/jwks.json"
        verifier = TokenVerifier(TokenSettings(jwks_url=url))
        actor = verifier.actor(issuer.issue(load_demo_users()["sam.social"]))
    assert actor.role == "social_worker"


def test_demo_users_file_reports_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "users.yaml"
    bad.write_text(
        "users:\n"
        "  - {name: a, display_name: A, organisation: X, role: wizard}\n"
        "  - {name: b, display_name: B, role: ig_officer}\n"
    )
    with pytest.raises(FatalConfigError) as caught:
        load_demo_users(bad)
    assert "wizard" in str(caught.value) and "users.1.organisation" in str(caught.value)


def test_cli_lists_users_and_prints_a_token_that_verifies(data_dir: Path) -> None:
    from typer.testing import CliRunner

    from gateway.cli import app

    runner = CliRunner()
    listed = runner.invoke(app, ["users"])
    assert listed.exit_code == 0 and "iris.ig" in listed.output and "IG officer" in listed.output
    printed = runner.invoke(app, ["token", "--user", "hana.health"])
    assert printed.exit_code == 0, printed.output
    actor = TokenVerifier(TokenSettings(), LocalIssuer()).actor(printed.output.strip())
    assert actor.role == "health_practitioner"
    assert runner.invoke(app, ["token", "--user", "nobody"]).exit_code != 0
