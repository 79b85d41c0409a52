"""Configuration in one typed place: every setting declared, described, documented, and read
through ``gateway.settings`` only."""

from __future__ import annotations

import ast
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.errors import FatalConfigError
from gateway.settings import SOURCE_PREFIX, STALE_PREFIX, VARIABLES, Settings, settings
from gateway.settings_doc import DOC, code_files, markdown, readers

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_MODULE = ROOT / "gateway" / "settings.py"


def _environment_reads(path: Path) -> list[str]:
    """Where a module reads the process environment (os.environ, os.getenv), by line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "os" and node.attr in ("environ", "getenv", "environb"):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            if {a.name for a in node.names} & {"environ", "getenv", "environb"}:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_module_but_settings_reads_the_environment() -> None:
    files = [p for p in code_files() if p != SETTINGS_MODULE]
    assert len(files) > 100
    reads = [where for path in files for where in _environment_reads(path)]
    assert reads == [], "read settings through gateway.settings"
    assert _environment_reads(SETTINGS_MODULE), "the check sees a read where there is one"


def test_every_setting_is_described() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description and len(field.description) > 20, name


def test_code_reads_only_declared_settings_and_every_setting_is_read() -> None:
    read = readers()
    declared = set(Settings.model_fields)
    families = {"source_setting", "stale_after_hours_override"}
    assert set(read) - families <= declared, "a setting read that is not declared"
    assert declared <= set(read), "a setting declared that nothing reads"
    assert families <= set(read)


def test_every_ehe_variable_the_code_names_is_documented() -> None:
    """A variable named in code or a docstring (``EHE_SOMETHING``) is a declared setting or of
    a documented per-source family: nothing is read, or promised, that the docs leave out."""
    named = {
        token
        for path in code_files()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        for token in re.findall(r"\bEHE_[A-Z0-9_]*[A-Z0-9]_?", node.value)
    }
    assert "EHE_INDEX_URL" in named
    undocumented = {
        token
        for token in named
        if token not in VARIABLES and not token.startswith((SOURCE_PREFIX, STALE_PREFIX))
    }
    assert undocumented == set()


def test_configuration_doc_is_up_to_date() -> None:
    committed = (ROOT / DOC).read_text(encoding="utf-8")
    assert committed == markdown(), "run `make docs` (ehe-gateway settings --markdown)"
    result = CliRunner().invoke(app, ["settings", "--markdown"])
    assert result.exit_code == 0
    assert result.output == committed


def test_a_changed_variable_is_seen_by_the_next_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EHE_DB_POOL_SIZE", raising=False)
    assert settings().db_pool_size == 20
    monkeypatch.setenv("EHE_DB_POOL_SIZE", "7")
    assert settings().db_pool_size == 7
    monkeypatch.setenv("EHE_DB_POOL_SIZE", "")  # empty is unset
    assert settings().db_pool_size == 20


def test_a_bad_value_names_the_variable_never_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EHE_BREAK_GLASS_MINUTES", "an-hour-or-so")
    with pytest.raises(FatalConfigError, match="EHE_BREAK_GLASS_MINUTES") as caught:
        settings()
    assert "an-hour-or-so" not in str(caught.value)


def test_settings_command_hides_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EHE_INDEX_URL", "postgresql://gateway:hunter2@db/ehe")
    monkeypatch.setenv("EHE_BREAK_GLASS_MINUTES", "45")
    result = CliRunner().invoke(app, ["settings"])
    assert result.exit_code == 0
    assert "hunter2" not in result.output
    assert re.search(r"EHE_INDEX_URL\s+\(set\)", result.output)
    assert re.search(r"EHE_BREAK_GLASS_MINUTES\s+45", result.output)


def test_ehe_today_fixes_the_day_for_a_whole_process() -> None:
    """A gateway started as a subprocess (the doc test's server) acts on the day it is given."""
    import subprocess
    import sys

    script = "from gateway import clock; print(clock.today().isoformat())"
    env = {**os.environ, "EHE_TODAY": "2026-11-29"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "2026-11-29"
    env.pop("EHE_TODAY")
    real = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert real.stdout.strip() == datetime.now(UTC).date().isoformat(), "unset: the real day"
