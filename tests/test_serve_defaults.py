"""``ehe-gateway serve``: one worker per core unless told, and the rate-limit warning."""

from __future__ import annotations

import os
from typing import Any

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.cli.serve import default_workers


def test_workers_default_to_the_cores_unless_the_environment_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("EHE_API_WORKERS", raising=False)
    assert default_workers() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("EHE_API_WORKERS", "3")
    assert default_workers() == 3


def test_serve_runs_uvicorn_compiled_without_access_log_and_warns_of_per_process_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import uvicorn

    called: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: called.update(target=target, **kw))
    monkeypatch.delenv("EHE_RATE_LIMIT_STORAGE", raising=False)
    result = CliRunner().invoke(app, ["serve", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert called["target"] == "gateway.api.app:create_app" and called["factory"] is True
    assert (called["workers"], called["loop"], called["http"]) == (2, "uvloop", "httptools")
    assert called["access_log"] is False
    assert "counted in each of the 2 worker processes" in result.output
    called.clear()
    result = CliRunner().invoke(app, ["serve", "--workers", "1", "--access-log"])
    assert called["access_log"] is True and "counted in each" not in result.output
