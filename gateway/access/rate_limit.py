"""Per-user rate limits against bulk extraction: ``burst`` at once, ``per_minute`` on average.

Beyond the limit the answer is 429 with the seconds to wait. Where the counts live is chosen by
``EHE_RATE_LIMIT_STORAGE``:

- unset (the default, no server needed): ``RateLimiter``, a token bucket per user in this
  process. Each API worker counts alone, so two workers let a user make twice as many requests.
- ``redis://HOST:PORT/DB``: ``SharedRateLimiter``, counted in Redis by the ``limits`` library
  (its sliding window counter: ``burst`` requests over ``burst / per_minute`` minutes, two
  counters per user, updated atomically by a Lua script), one count per user across every
  worker and machine naming the same Redis. If Redis cannot be reached it fails closed
  (``RateLimitUnavailableError``; the API answers 503), as the audit does.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from gateway.errors import GatewayError, RequestRefusedError
from gateway.settings import settings

STORAGE_ENV = "EHE_RATE_LIMIT_STORAGE"
KEY_PREFIX = "ehe-gateway-rate"


class RateLimitUnavailableError(GatewayError):
    """The shared counts (Redis) could not be read or written: nothing is let through."""


class RateLimitedError(RequestRefusedError):
    """Too many requests from this user: ``retry_after`` whole seconds to wait."""

    def __init__(self, wait: float) -> None:
        self.retry_after = max(1, math.ceil(wait))
        super().__init__("too many requests from this user; wait and try again")


def check_rate(limiter: RateLimiter, user: str) -> None:
    """Take one request from the user's allowance (API routes and web pages alike): raises
    ``RateLimitedError`` beyond it, ``RateLimitUnavailableError`` when it cannot be counted."""
    wait = limiter.retry_after(user)
    if wait is not None:
        raise RateLimitedError(wait)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Counted in this process: one token bucket per user."""

    shared = False

    def __init__(self, per_minute: float, burst: int) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be positive and burst at least 1")
        self.per_minute = per_minute
        self.per_second = per_minute / 60.0
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> RateLimiter:
        per_minute = settings().rate_limit_per_minute
        burst = settings().rate_limit_burst
        storage_url = settings().rate_limit_storage.strip()
        if storage_url and not storage_url.startswith("memory://"):
            return SharedRateLimiter(per_minute, burst, storage_url)
        return RateLimiter(per_minute, burst)

    def retry_after(self, user: str) -> float | None:
        """Take one request from the user's bucket: None if allowed, else seconds to wait."""
        moment = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(user)
            if bucket is None:
                bucket = self._buckets[user] = _Bucket(float(self.burst), moment)
            bucket.tokens = min(
                float(self.burst), bucket.tokens + (moment - bucket.updated) * self.per_second
            )
            bucket.updated = moment
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return (1.0 - bucket.tokens) / self.per_second


class SharedRateLimiter(RateLimiter):
    """Counted in a store every API worker shares (Redis), by the ``limits`` library."""

    shared = True

    def __init__(
        self, per_minute: float, burst: int, storage_url: str, key_prefix: str = KEY_PREFIX
    ) -> None:
        from limits import RateLimitItemPerSecond, storage, strategies

        super().__init__(per_minute, burst)
        window_seconds = max(1, math.ceil(burst * 60.0 / per_minute))
        self.item = RateLimitItemPerSecond(burst, window_seconds, namespace=key_prefix)
        self._storage = storage.storage_from_string(storage_url, key_prefix=key_prefix)
        self._limiter = strategies.SlidingWindowCounterRateLimiter(self._storage)

    def retry_after(self, user: str) -> float | None:
        """Count one request of the user's in the store: None if allowed, else seconds to wait."""
        try:
            if self._limiter.hit(self.item, user):
                return None
            reset_at = self._limiter.get_window_stats(self.item, user).reset_time
        except self._storage.base_exceptions as exc:  # the store's own errors: fail closed
            raise RateLimitUnavailableError(
                f"the rate limit store could not be reached ({type(exc).__name__})"
            ) from None
        return max(1.0, reset_at - time.time())
