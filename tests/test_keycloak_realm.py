"""The Keycloak realm docker-compose.yml imports (deploy/keycloak/ehe-realm.json) holds the demo
users of access/demo_users.yaml, and the gateway, configured as the compose file configures it,
maps the claims Keycloak's mappers emit for each of them to the same role and organisation.

The claims are built the way Keycloak's protocol mappers build them: a User Attribute mapper
puts the attribute's value under its claim name, a realm role mapper puts every realm role the
user has (their own and the realm's default roles) in a list, and a dotted claim name nests.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.access.roles import ROLES
from gateway.access.sessions import ClaimMapping

ROOT = Path(__file__).resolve().parents[1]
REALM = json.loads((ROOT / "deploy" / "keycloak" / "ehe-realm.json").read_text())
DEMO_USERS = yaml.safe_load((ROOT / "access" / "demo_users.yaml").read_text())["users"]
SERVICES = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
GATEWAY_ENV: dict[str, str] = SERVICES["gateway-api"]["environment"]
AIRFLOW_ENV: dict[str, str] = SERVICES["airflow-api-server"]["environment"]
# Keycloak gives every user the realm's default roles as well (a composite role).
DEFAULT_ROLES = [f"default-roles-{REALM['realm']}", "offline_access", "uma_authorization"]


def _client(client_id: str) -> dict[str, Any]:
    return next(c for c in REALM["clients"] if c["clientId"] == client_id)


def _put(claims: dict[str, Any], name: str, value: Any) -> None:
    """A claim as Keycloak writes it: ``a.b`` is claim ``b`` inside object ``a``."""
    *parents, last = name.split(".")
    for part in parents:
        claims = claims.setdefault(part, {})
    claims[last] = value


def _claims(user: dict[str, Any], client: dict[str, Any], token: str) -> dict[str, Any]:
    """The claims the client's mappers put in the ``token`` ("id" or "access") for ``user``."""
    claims: dict[str, Any] = {"sub": f"uuid-of-{user['username']}"}
    claims["preferred_username"] = user["username"]  # the built-in "profile" scope's mapper
    for mapper in client["protocolMappers"]:
        config = mapper["config"]
        if config.get(f"{token}.token.claim") != "true":
            continue
        if mapper["protocolMapper"] == "oidc-usermodel-attribute-mapper":
            values = user["attributes"].get(config["user.attribute"], [])
            value = values if config.get("multivalued") == "true" else values[0]
            _put(claims, config["claim.name"], value)
        elif mapper["protocolMapper"] == "oidc-usermodel-realm-role-mapper":
            _put(claims, config["claim.name"], [*DEFAULT_ROLES, *user["realmRoles"]])
        elif mapper["protocolMapper"] == "oidc-audience-mapper":
            claims["aud"] = [config["included.client.audience"]]
    return claims


def _compose_claim_mapping(monkeypatch: pytest.MonkeyPatch) -> ClaimMapping:
    """The gateway's claim mapping read, through its settings, from the compose file's
    EHE_OIDC_* environment (a map it sets is parsed and checked as in the container)."""
    for name in ("EHE_OIDC_ROLE_MAP", "EHE_OIDC_ORGANISATION_MAP"):
        monkeypatch.delenv(name, raising=False)
    for name, value in GATEWAY_ENV.items():
        if name.startswith("EHE_OIDC_"):
            monkeypatch.setenv(name, str(value))
    return ClaimMapping.from_env()


def test_the_realm_holds_the_demo_users_roles_and_organisations() -> None:
    realm_users = {u["username"]: u for u in REALM["users"]}
    assert set(realm_users) == {u["name"] for u in DEMO_USERS}
    assert {r["name"] for r in REALM["roles"]["realm"]} == set(ROLES)
    for demo in DEMO_USERS:
        user = realm_users[demo["name"]]
        assert user["enabled"] and user["realmRoles"] == [demo["role"]]
        assert user["attributes"]["organisation"] == [demo["organisation"]]
        assert f"{user['firstName']} {user['lastName']}" == demo["display_name"]
        [password] = user["credentials"]
        assert password["type"] == "password" and password["temporary"] is False
        assert password["value"].startswith("demo-"), "demo passwords say what they are"
        assert user["email"].endswith(".invalid")  # no real address in the demo realm


def test_a_person_cannot_change_their_own_organisation_or_sign_up() -> None:
    assert REALM["registrationAllowed"] is False and REALM["editUsernameAllowed"] is False
    provider = REALM["components"]["org.keycloak.userprofile.UserProfileProvider"][0]
    profile = json.loads(provider["config"]["kc.user.profile.config"][0])
    organisation = next(a for a in profile["attributes"] if a["name"] == "organisation")
    assert organisation["permissions"]["edit"] == ["admin"]
    assert profile.get("unmanagedAttributePolicy") in (None, "ADMIN_VIEW")


@pytest.mark.parametrize("token", ["id", "access"])
def test_each_demo_users_keycloak_claims_map_to_their_role_and_organisation(
    token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The web sign-in reads the ID token, the API the access token: both map the same way."""
    mapping = _compose_claim_mapping(monkeypatch)
    assert mapping.role_claim == "realm_access.roles"
    client = _client(GATEWAY_ENV["EHE_OIDC_CLIENT_ID"])
    users = {u["username"]: u for u in REALM["users"]}
    for demo in DEMO_USERS:
        actor = mapping.actor(_claims(users[demo["name"]], client, token))
        assert (actor.user, actor.role, actor.organisation) == (
            demo["name"],
            demo["role"],
            demo["organisation"],
        )


def test_the_gateway_client_is_confidential_with_pkce_and_matches_the_compose_settings() -> None:
    client = _client(GATEWAY_ENV["EHE_OIDC_CLIENT_ID"])
    assert client["publicClient"] is False and client["standardFlowEnabled"] is True
    assert client["implicitFlowEnabled"] is False and client["directAccessGrantsEnabled"] is False
    assert client["attributes"]["pkce.code.challenge.method"] == "S256"
    assert client["redirectUris"] == [GATEWAY_ENV["EHE_OIDC_REDIRECT_URL"]]
    assert GATEWAY_ENV["EHE_OIDC_REDIRECT_URL"].endswith("/auth/callback")
    access = _claims(REALM["users"][0], client, "access")
    assert access["aud"] == [GATEWAY_ENV["EHE_OIDC_AUDIENCE"]]  # the API's bearer tokens
    assert str(GATEWAY_ENV.get("EHE_DEMO_MODE", "false")).lower() == "false"


def test_issuer_urls_and_secrets_agree_between_keycloak_the_gateway_and_airflow() -> None:
    keycloak = SERVICES["keycloak"]["environment"]
    issuer = f"{keycloak['KC_HOSTNAME']}/realms/{REALM['realm']}"
    assert GATEWAY_ENV["EHE_OIDC_ISSUER"] == issuer
    inside = f"{AIRFLOW_ENV['AIRFLOW__KEYCLOAK_AUTH_MANAGER__SERVER_URL']}/realms/{REALM['realm']}"
    assert inside.startswith("http://keycloak:8080/")  # the service's name and container port
    assert GATEWAY_ENV["EHE_OIDC_DISCOVERY_URL"] == f"{inside}/.well-known/openid-configuration"
    assert GATEWAY_ENV["EHE_OIDC_JWKS_URL"] == f"{inside}/protocol/openid-connect/certs"
    assert keycloak["KC_HOSTNAME_BACKCHANNEL_DYNAMIC"] == "true"
    assert AIRFLOW_ENV["AIRFLOW__KEYCLOAK_AUTH_MANAGER__REALM"] == REALM["realm"]
    airflow = _client(AIRFLOW_ENV["AIRFLOW__KEYCLOAK_AUTH_MANAGER__CLIENT_ID"])
    callback = AIRFLOW_ENV["AIRFLOW__API__BASE_URL"].rstrip("/") + "/auth/login_callback"
    assert airflow["redirectUris"] == [callback] and airflow["publicClient"] is False
    assert airflow["authorizationServicesEnabled"] is True  # the auth manager asks it
    # Client secrets are placeholders Keycloak fills from .env at import, never written here.
    example = (ROOT / ".env.example").read_text()
    for client in REALM["clients"]:
        placeholder = re.fullmatch(r"\$\{([A-Z_][A-Z0-9_]*)\}", client["secret"])
        assert placeholder, f"{client['clientId']}: the secret must come from .env"
        assert re.search(rf"^{placeholder.group(1)}=", example, re.MULTILINE)
    assert _client("ehe-gateway")["secret"] == "${EHE_OIDC_CLIENT_SECRET}"
    assert airflow["secret"] == "${AIRFLOW__KEYCLOAK_AUTH_MANAGER__CLIENT_SECRET}"


@pytest.mark.airflow
def test_airflow_roles_exist_for_the_auth_manager_and_only_engineers_and_admins_hold_them() -> None:
    """``airflow keycloak-auth-manager create-all`` (compose: airflow-keycloak-init) attaches
    its policies to these roles and fails when one is missing."""
    from airflow.providers.keycloak.auth_manager.cli.commands import (
        SUPER_ADMIN_ROLE_NAME,
        TEAM_ROLE_NAMES,
    )

    client_id = AIRFLOW_ENV["AIRFLOW__KEYCLOAK_AUTH_MANAGER__CLIENT_ID"]
    roles = {r["name"] for r in REALM["roles"]["client"][client_id]}
    assert roles == {*TEAM_ROLE_NAMES, SUPER_ADMIN_ROLE_NAME}
    held = {
        u["username"]: u["clientRoles"][client_id]
        for u in REALM["users"]
        if client_id in u.get("clientRoles", {})
    }
    by_role = {u["name"]: u["role"] for u in DEMO_USERS}
    assert {by_role[name]: granted for name, granted in held.items()} == {
        "data_engineer": ["Op"],
        "admin": ["Admin"],
    }
