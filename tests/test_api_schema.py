"""Schemathesis against the published OpenAPI spec, over real HTTP: no server errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from api_server import bearer, serving
from hypothesis import HealthCheck, given, settings
from index_builder import add_child, add_review_pair, record
from schemathesis.checks import not_a_server_error

from gateway.access.rate_limit import RateLimiter
from gateway.api.app import create_app
from gateway.store.engine import dispose_engine, session_factory
from gateway.store.migrate import upgrade

IG_PATHS = ("/api/v1/audit", "/api/v1/break-glass/")
REVIEW_PATHS = ("/api/v1/reviews",)


@pytest.fixture(scope="module")
def served_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    folder: Path = tmp_path_factory.mktemp("schemathesis")
    url = f"sqlite:///{folder / 'index.sqlite'}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("EHE_DATA_DIR", str(folder / "data"))
        env.setenv("EHE_INDEX_URL", url)
        upgrade(url)
        identity = {"given_name": "Ava", "family_name": "Moss", "birth_date": "2015-01-02"}
        with session_factory(url).begin() as session:
            add_child(
                session,
                "C-1",
                [record("education__ehe_register", "e1", identity, education={"ehe": [{}]})],
            )
            add_review_pair(session)  # review 1: a real pair to show, accept or reject
        app = create_app(url, rate_limiter=RateLimiter(per_minute=1e6, burst=10**6))
        with serving(app) as client:
            yield schemathesis.openapi.from_url(f"{client.base_url}/api/v1/openapi.json")
    dispose_engine(url)


def _fuzz(operation: Any, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def no_server_error(case: schemathesis.Case) -> None:
        response = case.call(headers=headers)
        case.validate_response(response, checks=[not_a_server_error])

    no_server_error()


def test_no_server_errors_anywhere_in_the_published_spec(served_schema: Any) -> None:
    """Every operation, bounded examples each; any 5xx fails with the case that caused it."""
    operations = [result.ok() for result in served_schema.get_all_operations()]
    assert len(operations) >= 9
    for operation in operations:
        user = "iris.ig" if operation.path.startswith(IG_PATHS) else "erin.ehe"
        if operation.path.startswith(REVIEW_PATHS):
            user = "dev.data"  # the role that opens and decides reviews
        _fuzz(operation, bearer(user))
