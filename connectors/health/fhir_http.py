"""An HTTP client for a FHIR R4 REST API: OAuth2 client-credentials tokens, retries, paging.

Tokens are fetched from the token endpoint with the client id and secret, kept until shortly
before they expire, and renewed once more if the server answers 401 anyway. Requests have
timeouts; 429, 5xx, timeouts, dropped connections and truncated bodies are retried with
exponential backoff that waits at least as long as a Retry-After header asks. Errors name the
resource type and the HTTP status, never a URL with an id in it or anything from a body.
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from gateway.errors import FatalConfigError, RetriableSourceError

log = logging.getLogger(__name__)
# httpx logs every request's URL at INFO; a read URL carries a patient's id, so keep it quiet.
logging.getLogger("httpx").setLevel(logging.WARNING)
RETRIED_STATUS = frozenset({429, 500, 502, 503, 504})
FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to try: ``attempts`` in all, backoff doubling from ``base_s``."""

    attempts: int = 5
    base_s: float = 0.5
    max_delay_s: float = 30.0
    timeout_s: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = min(self.base_s * 2**attempt, self.max_delay_s)
        return max(backoff, retry_after or 0.0)


@dataclass(frozen=True)
class ClientCredentials:
    token_url: str
    client_id: str
    client_secret: str

    def __repr__(self) -> str:  # never show the secret
        return f"<ClientCredentials {self.client_id}>"


class _Retry(Exception):
    """One attempt failed in a way worth trying again; ``reason`` names no data."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class FhirClient:
    """Reads one FHIR server: ``search`` pages through a searchset, ``read`` gets one resource."""

    def __init__(
        self,
        base_url: str,
        credentials: ClientCredentials,
        policy: RetryPolicy | None = None,
        *,
        source: str = "fhir",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.policy = policy or RetryPolicy()
        self.source = source
        self._token: str | None = None
        self._token_expires = 0.0
        self._http = httpx.Client(
            timeout=self.policy.timeout_s, headers={"Accept": FHIR_JSON}, follow_redirects=False
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FhirClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the FHIR interactions -----------------------------------------------------------

    def capabilities(self) -> dict[str, Any]:
        """The server's CapabilityStatement (``GET [base]/metadata``)."""
        return self._get_json(f"{self.base_url}/metadata", None, what="metadata")

    def search(self, resource_type: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Every resource the search matches, following the searchset Bundle's next links."""
        url: str | None = f"{self.base_url}/{resource_type}"
        query: dict[str, str] | None = params
        pages = 0
        while url:
            bundle = self._get_json(url, query, what=f"{resource_type} search")
            if bundle.get("resourceType") != "Bundle":
                raise FatalConfigError(
                    f"{self.source}: {resource_type} search did not return a Bundle"
                )
            pages += 1
            for entry in bundle.get("entry") or []:
                resource = entry.get("resource")
                mode = (entry.get("search") or {}).get("mode", "match")
                if isinstance(resource, dict) and mode == "match":
                    yield resource
            url, query = _next_link(bundle), None
        log.info("%s: %s search read %d page(s)", self.source, resource_type, pages)

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        """One resource by id (``GET [base]/Type/id``); None if the server has no such one."""
        url = f"{self.base_url}/{resource_type}/{resource_id}"
        return self._get_json(url, None, what=f"{resource_type} read", missing_ok=True) or None

    # --- requests, retries and tokens ----------------------------------------------------

    def _get_json(
        self, url: str, params: dict[str, str] | None, *, what: str, missing_ok: bool = False
    ) -> dict[str, Any]:
        renewed = False
        last = "no attempt"
        for attempt in range(self.policy.attempts):
            try:
                response = self._send(url, params)
                if response.status_code == 401 and not renewed:
                    renewed = True  # the token was revoked or expired early: renew it once
                    self._token = None
                    response = self._send(url, params)
                return self._json(response, what, missing_ok=missing_ok)
            except _Retry as retry:
                last = retry.reason
                self._wait(what, attempt, retry)
        raise RetriableSourceError(
            f"{self.source}: {what} failed after {self.policy.attempts} attempts ({last})"
        )

    def _send(self, url: str, params: dict[str, str] | None) -> httpx.Response:
        headers = self._auth()
        try:
            return self._http.get(url, params=params, headers=headers)
        except httpx.TimeoutException:
            raise _Retry("timed out") from None
        except httpx.TransportError as exc:  # refused, reset, or a body cut short
            raise _Retry(f"connection failed ({type(exc).__name__})") from None

    def _json(self, response: httpx.Response, what: str, *, missing_ok: bool) -> dict[str, Any]:
        status = response.status_code
        if status in (401, 403):
            raise FatalConfigError(
                f"{self.source}: {what} refused with HTTP {status} after renewing the token; "
                "check the client's credentials and scopes"
            )
        if status in (404, 410) and missing_ok:
            return {}
        if status in RETRIED_STATUS:
            raise _Retry(f"HTTP {status}", _retry_after(response))
        if status >= 400:
            raise FatalConfigError(f"{self.source}: {what} answered HTTP {status}")
        try:
            document = json.loads(response.content)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _Retry("truncated or malformed JSON body") from None
        if not isinstance(document, dict):
            raise _Retry("body is not a JSON object")
        return document

    def _wait(self, what: str, attempt: int, retry: _Retry) -> None:
        if attempt + 1 >= self.policy.attempts:
            return
        if retry.retry_after is not None and retry.retry_after > self.policy.max_delay_s:
            raise RetriableSourceError(
                f"{self.source}: {what} asked to wait {retry.retry_after:.0f}s ({retry.reason}), "
                f"longer than the {self.policy.max_delay_s:.0f}s this run waits"
            )
        delay = self.policy.delay(attempt, retry.retry_after)
        log.warning(
            "%s: %s attempt %d failed (%s); retrying in %.1fs",
            self.source,
            what,
            attempt + 1,
            retry.reason,
            delay,
        )
        time.sleep(delay)

    def _auth(self) -> dict[str, str]:
        if self._token is None or time.monotonic() >= self._token_expires:
            self._renew_token()
        return {"Authorization": f"Bearer {self._token}"}

    def _renew_token(self) -> None:
        last = "no attempt"
        for attempt in range(self.policy.attempts):
            try:
                self._token, lifetime = self._request_token()
                # Renew a little before the server's expiry, so a token never dies in flight.
                self._token_expires = time.monotonic() + lifetime - min(30.0, lifetime * 0.1)
                return
            except _Retry as retry:
                last = retry.reason
                self._wait("token request", attempt, retry)
        raise RetriableSourceError(
            f"{self.source}: token request failed after {self.policy.attempts} attempts ({last})"
        )

    def _request_token(self) -> tuple[str, float]:
        creds = self.credentials
        try:
            response = self._http.post(
                creds.token_url,
                data={"grant_type": "client_credentials"},
                auth=(creds.client_id, creds.client_secret),
                headers={"Accept": "application/json"},
            )
        except httpx.TimeoutException:
            raise _Retry("token endpoint timed out") from None
        except httpx.TransportError as exc:
            raise _Retry(f"token endpoint unreachable ({type(exc).__name__})") from None
        if response.status_code in (400, 401, 403):
            raise FatalConfigError(
                f"{self.source}: the token endpoint refused the client credentials "
                f"(HTTP {response.status_code})"
            )
        token = self._json(response, "token request", missing_ok=False)
        if not token.get("access_token"):
            raise FatalConfigError(f"{self.source}: the token endpoint returned no access_token")
        return str(token["access_token"]), float(token.get("expires_in") or 300)


def _next_link(bundle: dict[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if link.get("relation") == "next" and link.get("url"):
            return str(link["url"])
    return None


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), if any."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
