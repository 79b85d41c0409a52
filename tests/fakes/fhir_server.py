"""A FHIR R4 server on loopback, for tests: real HTTP, real FHIR JSON, faults on demand.

It serves ``[base]/metadata``, search on Patient and Encounter by ``_lastUpdated`` (gt, ge,
lt, le) with ``_count`` and ``_sort=_lastUpdated``, paged searchset Bundles whose ``next``
link carries the offset, read by id, and an OAuth2 client-credentials token endpoint that
issues tokens which expire. Every write stamps ``meta.lastUpdated`` and ``meta.versionId`` as
a real server does. Faults are queued and each is used once by the next request it matches:
429 with Retry-After, 500, 401, 403, a slow answer, a truncated body, a revoked token.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

BASE_PATH = "/fhir"
TOKEN_PATH = "/oauth2/token"
CLIENT_ID = "ehe-gateway-test"
CLIENT_SECRET = "not-a-real-secret-" + "0" * 8
START = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


@dataclass
class Fault:
    """One injected failure: ``kind`` is 429, 500, 401, 403, slow, truncated or revoke."""

    kind: str
    path_contains: str = ""
    retry_after: str | None = None
    delay_s: float = 0.0


@dataclass
class Served:
    method: str
    path: str
    status: int


@dataclass
class FhirState:
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (monotonic)
    faults: list[Fault] = field(default_factory=list)
    log: list[Served] = field(default_factory=list)
    token_lifetime_s: int = 300
    clock: datetime = START
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeFhirServer:
    """Run with ``serving()``; ``put`` resources, ``fail`` to inject a fault."""

    def __init__(self, token_lifetime_s: int = 300) -> None:
        self.state = FhirState(token_lifetime_s=token_lifetime_s)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self._httpd.daemon_threads = True
        host, port = self._httpd.server_address[:2]
        self.origin = f"http://{host!s}:{port}"
        self.base_url = self.origin + BASE_PATH
        self.token_url = self.origin + TOKEN_PATH

    def config(self, **tuning: Any) -> dict[str, Any]:
        """A connector config for this server (fast retries unless told otherwise)."""
        settings: dict[str, Any] = {
            "url": self.base_url,
            "token_url": self.token_url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "page_size": 50,
            "timeout_s": 2,
            "attempts": 4,
            "backoff_s": 0.05,
            "max_delay_s": 5,
        }
        return settings | tuning

    def put(self, resources: Iterable[dict[str, Any]], *, same_instant: bool = False) -> str:
        """Create or update resources, one second apart; return the last lastUpdated.

        ``same_instant`` stamps them with the instant of the last write instead, as a server
        does when two writes fall within its clock's resolution.
        """
        stamp = ""
        with self.state.lock:
            for resource in resources:
                if not same_instant:
                    self.state.clock += timedelta(seconds=1)
                key = (resource["resourceType"], resource["id"])
                old = self.state.resources.get(key)
                version = int((old or {}).get("meta", {}).get("versionId", "0")) + 1
                stamp = self.state.clock.isoformat().replace("+00:00", "Z")
                meta = {**resource.get("meta", {}), "versionId": str(version), "lastUpdated": stamp}
                self.state.resources[key] = {**resource, "meta": meta}
        return stamp

    def fail(self, *faults: Fault) -> None:
        with self.state.lock:
            self.state.faults.extend(faults)

    def served(self, path_contains: str = "", status: int | None = None) -> list[Served]:
        return [
            s
            for s in self.state.log
            if path_contains in s.path and (status is None or s.status == status)
        ]

    @contextmanager
    def serving(self) -> Iterator[FakeFhirServer]:
        thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._httpd.shutdown()
            self._httpd.server_close()
            thread.join(5)


def appointment_for(patient_id: str, day: int, status: str = "fulfilled") -> dict[str, Any]:
    """One outpatient Appointment of a Patient on a day in November 2026."""
    return {
        "resourceType": "Appointment",
        "id": f"appt-{patient_id}-{day}-{status}",
        "status": status,
        "start": f"2026-11-{day:02d}T10:00:00Z",
        "end": f"2026-11-{day:02d}T10:30:00Z",
        "participant": [
            {"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"},
        ],
    }


def encounters_for(patient_id: str, count: int, first_day: int = 1) -> list[dict[str, Any]]:
    """``count`` finished ambulatory Encounters of one Patient, a day apart in October 2026."""
    return [
        {
            "resourceType": "Encounter",
            "id": f"enc-{patient_id}-{n}",
            "status": "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "AMB",
                "display": "ambulatory",
            },
            "subject": {"reference": f"Patient/{patient_id}"},
            "period": {
                "start": f"2026-10-{first_day + n:02d}T09:00:00Z",
                "end": f"2026-10-{first_day + n:02d}T09:20:00Z",
            },
        }
        for n in range(count)
    ]


def _handler(state: FhirState) -> type[BaseHTTPRequestHandler]:
    class Handler(_FhirHandler):
        pass

    Handler.state = state
    return Handler


class _FhirHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: FhirState

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8")
        if self._injected():
            return
        if urlsplit(self.path).path != TOKEN_PATH:
            self._send(404, _outcome("not-found", "no such endpoint"))
            return
        self._token(parse_qs(body))

    def do_GET(self) -> None:
        if self._injected():
            return
        url = urlsplit(self.path)
        if not url.path.startswith(BASE_PATH + "/"):
            self._send(404, _outcome("not-found", "no such endpoint"))
            return
        if not self._authorised():
            return
        parts = url.path[len(BASE_PATH) + 1 :].split("/")
        query = parse_qs(url.query)
        if parts == ["metadata"]:
            self._send(200, _capabilities())
        elif len(parts) == 1 and parts[0] in ("Patient", "Encounter", "Appointment"):
            self._send(200, self._search(parts[0], query))
        elif len(parts) == 2 and parts[0] in ("Patient", "Encounter", "Appointment"):
            found = self.state.resources.get((parts[0], parts[1]))
            if found is None:
                self._send(404, _outcome("not-found", "no such resource"))
            else:
                self._send(200, found)
        else:
            self._send(400, _outcome("not-supported", "unsupported interaction"))

    # --- OAuth2 --------------------------------------------------------------------------

    def _token(self, form: dict[str, list[str]]) -> None:
        client_id, secret = _basic(self.headers.get("Authorization"))
        client_id = client_id or (form.get("client_id") or [""])[0]
        secret = secret or (form.get("client_secret") or [""])[0]
        if form.get("grant_type") != ["client_credentials"]:
            self._send(400, {"error": "unsupported_grant_type"}, "application/json")
            return
        if (client_id, secret) != (CLIENT_ID, CLIENT_SECRET):
            self._send(401, {"error": "invalid_client"}, "application/json")
            return
        token = secrets.token_urlsafe(16)
        with self.state.lock:
            self.state.tokens[token] = time.monotonic() + self.state.token_lifetime_s
        answer = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.state.token_lifetime_s,
        }
        self._send(200, answer, "application/json")

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization") or ""
        token = header.removeprefix("Bearer ").strip()
        expiry = self.state.tokens.get(token)
        if expiry is not None and time.monotonic() < expiry:
            return True
        self._send(401, _outcome("login", "token missing, expired or revoked"), extra_auth=True)
        return False

    # --- search --------------------------------------------------------------------------

    def _search(self, kind: str, query: dict[str, list[str]]) -> dict[str, Any]:
        with self.state.lock:
            chosen = [r for (k, _), r in self.state.resources.items() if k == kind]
        for condition in query.get("_lastUpdated", []):
            chosen = [r for r in chosen if _compare(r["meta"]["lastUpdated"], condition)]
        chosen.sort(key=lambda r: (r["meta"]["lastUpdated"], r["id"]))
        count = int((query.get("_count") or ["20"])[0])
        offset = int((query.get("_offset") or ["0"])[0])
        page = chosen[offset : offset + count]
        origin = f"http://{self.headers.get('Host')}{BASE_PATH}/{kind}"
        kept = {k: v for k, v in query.items() if k != "_offset"}
        links = [{"relation": "self", "url": f"{origin}?{urlencode(query, doseq=True)}"}]
        if offset + count < len(chosen):
            following = urlencode({**kept, "_offset": [str(offset + count)]}, doseq=True)
            links.append({"relation": "next", "url": f"{origin}?{following}"})
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(chosen),
            "link": links,
            "entry": [
                {
                    "fullUrl": f"{origin}/{r['id']}",
                    "resource": r,
                    "search": {"mode": "match"},
                }
                for r in page
            ],
        }

    # --- faults and sending --------------------------------------------------------------

    def _injected(self) -> bool:
        """Apply the first queued fault that matches this request; True if it answered."""
        with self.state.lock:
            fault = next((f for f in self.state.faults if f.path_contains in self.path), None)
            if fault is not None:
                self.state.faults.remove(fault)
        if fault is None:
            return False
        if fault.kind == "slow":
            time.sleep(fault.delay_s)
            return False
        if fault.kind == "revoke":
            with self.state.lock:
                self.state.tokens.clear()
            return False
        if fault.kind == "truncated":
            self._truncated()
            return True
        status = int(fault.kind)
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        self._send(status, _outcome("transient", f"injected {status}"), headers=headers)
        return True

    def _truncated(self) -> None:
        body = json.dumps(_outcome("transient", "cut short " * 50)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 3])
        self.wfile.flush()
        self.close_connection = True
        with self.state.lock:
            self.state.log.append(Served(self.command, self.path, 200))

    def _send(
        self,
        status: int,
        document: dict[str, Any],
        content_type: str = "application/fhir+json",
        *,
        headers: dict[str, str] | None = None,
        extra_auth: bool = False,
    ) -> None:
        body = json.dumps(document).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if extra_auth:
                self.send_header("WWW-Authenticate", 'Bearer error="invalid_token"')
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a slow answer)
            self.close_connection = True
            return
        with self.state.lock:
            self.state.log.append(Served(self.command, self.path, status))


def _compare(stamp: str, condition: str) -> bool:
    prefix, value = condition[:2], condition[2:]
    if prefix not in ("gt", "ge", "lt", "le", "eq"):
        prefix, value = "eq", condition
    left, right = _instant(stamp), _instant(value)
    return {
        "gt": left > right,
        "ge": left >= right,
        "lt": left < right,
        "le": left <= right,
        "eq": left == right,
    }[prefix]


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _basic(header: str | None) -> tuple[str, str]:
    if not header or not header.startswith("Basic "):
        return "", ""
    decoded = base64.b64decode(header[6:]).decode("utf-8")
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


def _outcome(code: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }


def _capabilities() -> dict[str, Any]:
    search = [{"name": "_lastUpdated", "type": "date"}, {"name": "_count", "type": "number"}]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-01",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "resource": [
                    {
                        "type": kind,
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "searchParam": search,
                    }
                    for kind in ("Patient", "Encounter", "Appointment")
                ],
            }
        ],
    }
