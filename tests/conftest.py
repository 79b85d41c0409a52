"""Shared fixtures: a fresh index per test on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Browser, sync_playwright

from gateway import clock
from gateway.reports.pdf import CHROMIUM, CHROMIUM_ARGS
from gateway.store.engine import dispose_engine
from gateway.store.migrate import upgrade

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN = os.environ.get("EHE_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
SAMPLES = Path(
    os.environ.get("EHE_SAMPLES", Path(__file__).resolve().parents[2] / "shared" / "samples")
)


# The day every test acts on: inside the demo agreement's term and a few weeks after the synthetic
# population's reference date, so no result changes with the day the suite runs.
TEST_DAY = date(2026, 11, 29)


@pytest.fixture(autouse=True)
def _fixed_day() -> Iterator[None]:
    with clock.fixed_day(TEST_DAY):
        yield


@pytest.fixture(autouse=True)
def _demo_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests sign in as the demo users (the app serves them on loopback); the sign-in tests
    of the real flow turn demo mode off (tests/test_oidc_sign_in.py)."""
    monkeypatch.setenv("EHE_DEMO_MODE", "true")


def _pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


PG_UP = _pg_available()


def require_postgres() -> None:
    if PG_UP:
        return
    if IN_CI:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_ADMIN}; under CI=true these tests must run"
        )
    pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, driven by Playwright (the web pages' and sign-in's browser tests)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"chromium not installed at {CHROMIUM}")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def samples() -> Path:
    """The published sample files beside the checkout (../shared/samples)."""
    if not SAMPLES.is_dir():
        if IN_CI:
            pytest.fail(f"sample files not found at {SAMPLES}; under CI=true they must be there")
        pytest.skip(f"sample files not found at {SAMPLES} (set EHE_SAMPLES)")
    return SAMPLES


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private data folder (landing, staging, extracts) for one test."""
    folder = tmp_path / "data"
    monkeypatch.setenv("EHE_DATA_DIR", str(folder))
    for name in ("EHE_LANDING_DIR", "EHE_STAGING_DIR"):
        monkeypatch.delenv(name, raising=False)
    return folder


def _make_pg_database() -> tuple[str, str]:
    name = f"ehe_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    return name, f"{base}/{name}"


def _drop_pg_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def _migrated_index(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'index.sqlite'}"
        name = None
    else:
        require_postgres()
        name, url = _make_pg_database()
    monkeypatch.setenv("EHE_INDEX_URL", url)
    try:
        upgrade(url)
        yield url
    finally:
        dispose_engine(url)
        if name:
            _drop_pg_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def index_url(
    request: pytest.FixtureRequest, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A new, migrated index database for this test alone, dropped afterwards."""
    with _migrated_index(request.param, tmp_path, monkeypatch) as url:
        yield url


@pytest.fixture
def pg_index_url(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The same on PostgreSQL alone, for what only PostgreSQL does (under CI=true it must run)."""
    with _migrated_index("postgresql", tmp_path, monkeypatch) as url:
        yield url


@pytest.fixture(scope="session")
def synthetic_inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic population in every agency's format (generated once per session)."""
    from gateway.synth import generate

    out = tmp_path_factory.mktemp("inbox")
    generate(children=300, seed=11, out=out)
    return out


@pytest.fixture
def inbox(synthetic_inbox: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EHE_INBOX", str(synthetic_inbox))
    for name in list(os.environ):
        if name.startswith("EHE_SOURCE_"):
            monkeypatch.delenv(name)
    return synthetic_inbox
