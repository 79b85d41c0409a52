"""docker-compose.yml is valid, production-shaped, and names only things that exist here."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from gateway.cli import app as cli_app

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
ONE_SHOT = {"airflow-init", "airflow-keycloak-init"}
EXPECTED = {
    "postgres",
    "redis",
    "airflow-init",
    "airflow-keycloak-init",
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "gateway-api",
    "keycloak",
}


def _commands(prefix: str) -> list[list[str]]:
    """Every command of a service that starts with ``prefix`` (also inside ``bash -c``)."""
    found = []
    for service in SERVICES.values():
        command = service.get("command") or []
        if command[:2] == ["bash", "-c"]:
            found += [part.split() for part in command[2].split("&&")]
        else:
            found.append(command)
    return [c for c in found if c and c[0] == prefix]


def test_services_are_the_production_shape() -> None:
    assert set(SERVICES) == EXPECTED
    for name, service in SERVICES.items():
        image = service["image"]
        assert "@sha256:" in image or re.search(r":[\w.-]+$", image), f"{name}: pin {image}"
        assert not image.endswith(":latest"), name
        if name not in ONE_SHOT:
            assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
        if name != "redis":
            assert service.get("env_file") == ".env", f"{name}: secrets come from the env file"
    for name in EXPECTED - {"postgres", "redis"}:
        depends = SERVICES[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"


def test_no_secret_is_written_in_the_file_and_every_variable_is_documented() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", example, re.MULTILINE))
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)\}", text))
    assert used <= documented, used - documented
    for service in SERVICES.values():
        for key, value in (service.get("environment") or {}).items():
            if {"PASSWORD", "SECRET", "KEY"} & set(key.split("_")):  # not KEYCLOAK
                pytest.fail(f"{key} must come from the env file, not docker-compose.yml")
            assert ":change-me" not in str(value)


def test_index_and_airflow_metadata_are_separate_databases() -> None:
    env = SERVICES["airflow-scheduler"]["environment"]
    metadata = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    index = env["EHE_INDEX_URL"]
    assert metadata.rsplit("/", 1)[1] != index.rsplit("/", 1)[1]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
    init = (ROOT / "deploy" / "postgres-init.sh").read_text()
    for database in (metadata.rsplit("/", 1)[1], index.rsplit("/", 1)[1]):
        assert f"CREATE DATABASE {database} " in init


def test_paths_it_names_exist() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    workdir = re.search(r"^WORKDIR (\S+)", dockerfile, re.MULTILINE)
    assert workdir
    copied = dict(
        (dest.removeprefix("./"), src)
        for src, dest in re.findall(r"^COPY (\S+) (\S+)$", dockerfile, re.MULTILINE)
    )
    for src in copied.values():
        assert (ROOT / src).exists(), src
    dags = SERVICES["airflow-scheduler"]["environment"]["AIRFLOW__CORE__DAGS_FOLDER"]
    assert dags.startswith(workdir.group(1) + "/")
    relative = dags.removeprefix(workdir.group(1) + "/")
    assert relative in copied and (ROOT / relative).is_dir()
    assert (ROOT / relative / "ingest.py").is_file()
    for service in SERVICES.values():
        for volume in service.get("volumes") or []:
            if volume.startswith("./"):
                assert (ROOT / volume.split(":")[0]).exists(), volume
    for command in _commands("airflow"):
        for arg in command:
            if arg.startswith("/opt/ehe/"):
                target = arg.removeprefix(workdir.group(1) + "/")
                assert target.split("/")[0] in copied and (ROOT / target).exists(), arg


def _parse_cli(argv: list[str]) -> None:
    """Parse an ``ehe-gateway`` command line down to its leaf command, without running it."""
    command: Any = typer.main.get_command(cli_app)  # typer ships its own copy of click
    name, args, parent = "ehe-gateway", argv, None
    while True:
        ctx = command.make_context(name, list(args), parent=parent)
        if not hasattr(command, "get_command"):  # a leaf command: its options parsed above
            return
        rest = [*ctx._protected_args, *ctx.args]
        sub = command.get_command(ctx, rest[0])
        if sub is None:
            raise LookupError(f"no command {rest[0]!r}")
        command, name, args, parent = sub, rest[0], rest[1:], ctx


def test_gateway_commands_exist() -> None:
    """Each ``ehe-gateway ...`` command line parses against the real CLI (without running)."""
    commands = _commands("ehe-gateway")
    assert ["ehe-gateway", "serve", "--host", "0.0.0.0", "--port", "8000"] in commands
    assert ["ehe-gateway", "db", "upgrade"] in commands
    for command in commands:
        _parse_cli(command[1:])
    with pytest.raises(Exception, match="No such option"):
        _parse_cli(["serve", "--no-such-option"])
    with pytest.raises(LookupError):
        _parse_cli(["db", "no-such-command"])


def test_healthcheck_urls_are_served() -> None:
    from gateway.api.app import create_app

    paths = {route.path for route in create_app("sqlite://").routes}  # type: ignore[attr-defined]
    url = SERVICES["gateway-api"]["healthcheck"]["test"][-1]
    assert url.split("8000", 1)[1] in paths


@pytest.mark.airflow
def test_airflow_commands_exist() -> None:
    """Each ``airflow ...`` and the celery health check parse against Airflow's own CLI."""
    commands = [c[1:] for c in _commands("airflow")]
    for name in ("scheduler", "dag-processor", "triggerer", "api-server"):
        assert [name] in commands
    assert any(c[:2] == ["keycloak-auth-manager", "create-all"] for c in commands)
    ping = SERVICES["airflow-worker"]["healthcheck"]["test"]
    app = ping[ping.index("--app") + 1]
    script = f"""
import json, sys
from airflow.cli import cli_parser
from airflow._shared.module_loading import import_string
parser = cli_parser.get_parser()
for argv in json.loads(sys.argv[1]):
    parser.parse_args(argv)
import_string({app!r})
"""
    # the auth manager the compose file names adds its commands (keycloak-auth-manager ...)
    manager = SERVICES["airflow-api-server"]["environment"]["AIRFLOW__CORE__AUTH_MANAGER"]
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(commands)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "AIRFLOW__CORE__AUTH_MANAGER": manager},
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_file_is_valid_against_the_compose_specification() -> None:
    """``docker compose config`` in CI without Docker: check-jsonschema's bundled copy of the
    Compose Specification schema (offline)."""
    schema = ["--builtin-schema", "vendor.compose-spec"]
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", *schema, str(ROOT / "docker-compose.yml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_keycloak_is_healthy_before_those_who_sign_in_at_it_start() -> None:
    keycloak = SERVICES["keycloak"]
    assert keycloak["image"].startswith("quay.io/keycloak/keycloak:")
    assert "--import-realm" in keycloak["command"]
    check = keycloak["healthcheck"]["test"]
    assert check[0] == "CMD-SHELL" and "/health/ready" in check[1]
    assert keycloak["environment"]["KC_HEALTH_ENABLED"] == "true"
    assert keycloak["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("gateway-api", "airflow-api-server"):
        assert SERVICES[name]["depends_on"]["keycloak"]["condition"] == "service_healthy"
    [realm] = [v for v in keycloak["volumes"] if "/opt/keycloak/data/import/" in v]
    assert (ROOT / realm.split(":")[0]).is_file() and realm.endswith(".json:ro")
    database = keycloak["environment"]["KC_DB_URL"].rsplit("/", 1)[1]
    assert f"CREATE DATABASE {database} " in (ROOT / "deploy" / "postgres-init.sh").read_text()
    for service in SERVICES.values():
        if "build" in service:
            assert (ROOT / service["build"] / "Dockerfile").is_file()
