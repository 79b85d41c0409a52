"""Per-user rate limits against bulk extraction: a token bucket for each user.

A user may make ``burst`` requests at once and then ``per_minute`` a minute; beyond that the
answer is 429 with the seconds to wait. Counted per process (one bucket per API worker).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, per_minute: float, burst: int) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be positive and burst at least 1")
        self.per_second = per_minute / 60.0
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> RateLimiter:
        return cls(
            per_minute=float(os.environ.get("EHE_RATE_LIMIT_PER_MINUTE", "120")),
            burst=int(os.environ.get("EHE_RATE_LIMIT_BURST", "30")),
        )

    def retry_after(self, user: str, now: float | None = None) -> float | None:
        """Take one request from the user's bucket: None if allowed, else seconds to wait."""
        moment = time.monotonic() if now is None else now
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
