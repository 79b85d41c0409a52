"""Per-user rate limits: per process by default, shared by every API worker through Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import redis
from api_server import bearer, free_port, serving
from conftest import IN_CI

from gateway.access.rate_limit import RateLimiter, SharedRateLimiter
from gateway.api.app import create_app

SQLITE = pytest.mark.parametrize("index_url", ["sqlite"], indirect=True)
REDIS = os.environ.get("EHE_TEST_REDIS", "redis://127.0.0.1:6379")
LOOKUP = {"purpose": "ehe_enquiry", "child_id": "C-none"}


def _redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=3).ping()
    except redis.RedisError:
        if IN_CI:
            pytest.fail(f"Redis is not reachable at {REDIS}; under CI=true this test must run")
        pytest.skip(f"Redis is not reachable at {REDIS}")
    return f"{REDIS}/0"


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own in Redis, deleted afterwards."""
    name = f"ehe-test-rate-{uuid.uuid4().hex[:12]}"
    yield name
    try:
        client = redis.Redis.from_url(REDIS, socket_connect_timeout=3)
        keys = list(client.scan_iter(f"{name}*"))
        if keys:
            client.delete(*keys)
    except redis.RedisError:
        pass


def _codes(index_url: str, first: RateLimiter, second: RateLimiter) -> list[int]:
    """Two API instances (two workers) on one index: two lookups on the first, one on the
    second, all by the same user; then one by another user on the second."""
    with ExitStack() as stack:
        a: httpx.Client = stack.enter_context(serving(create_app(index_url, rate_limiter=first)))
        b: httpx.Client = stack.enter_context(serving(create_app(index_url, rate_limiter=second)))
        codes = [a.post("/api/v1/lookup", json=LOOKUP, headers=bearer("erin.ehe")).status_code]
        codes.append(a.post("/api/v1/lookup", json=LOOKUP, headers=bearer("erin.ehe")).status_code)
        third = b.post("/api/v1/lookup", json=LOOKUP, headers=bearer("erin.ehe"))
        codes.append(third.status_code)
        if third.status_code == 429:
            assert int(third.headers["Retry-After"]) >= 1
        codes.append(b.post("/api/v1/lookup", json=LOOKUP, headers=bearer("iris.ig")).status_code)
    return codes


@SQLITE
def test_in_process_limits_are_per_worker(index_url: str, data_dir: Path) -> None:
    """The default needs no server, and each worker counts alone (the user gets a third)."""
    codes = _codes(index_url, RateLimiter(6, 2), RateLimiter(6, 2))
    assert codes == [404, 404, 404, 404]


@SQLITE
def test_redis_limits_are_shared_by_every_worker(
    index_url: str, data_dir: Path, prefix: str
) -> None:
    url = _redis_url()
    shared = [SharedRateLimiter(6, 2, url, key_prefix=prefix) for _ in range(2)]
    assert _codes(index_url, shared[0], shared[1]) == [404, 404, 429, 404]


@SQLITE
def test_an_unreachable_rate_limit_store_fails_closed(index_url: str, data_dir: Path) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    limiter = SharedRateLimiter(6, 2, nowhere)
    with serving(create_app(index_url, rate_limiter=limiter)) as client:
        answer = client.post("/api/v1/lookup", json=LOOKUP, headers=bearer("erin.ehe"))
    assert answer.status_code == 503
    assert "rate limit store" in answer.json()["detail"]


def test_the_store_is_chosen_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EHE_RATE_LIMIT_STORAGE", raising=False)
    assert not RateLimiter.from_env().shared
    monkeypatch.setenv("EHE_RATE_LIMIT_STORAGE", "redis://127.0.0.1:6379/0")
    assert isinstance(RateLimiter.from_env(), SharedRateLimiter)
