"""Benchmark: the lookup API on PostgreSQL, 16 concurrent clients, audit written every request.

Measures child summaries (POST /api/v1/lookup) and demographic searches (POST /api/v1/search)
with p50/p95/p99 and requests a second, and, in the same run against the same database, a bare
FastAPI endpoint doing one primary-key read and one insert; prints our rate as a share of it.

Size with BENCH_API_CHILDREN (default 20000; the target is 1000000), clients with
BENCH_API_CLIENTS (16), seconds per measurement with BENCH_API_SECONDS (10), API worker
processes with BENCH_API_WORKERS (2). The index is a new PostgreSQL database on
EHE_TEST_PG_ADMIN's server (dropped afterwards) unless BENCH_API_INDEX_URL names an empty one.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from workspace import temporary_gateway

PG_ADMIN = os.environ.get("EHE_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
GIVEN = ["Amelia", "Oliver", "Isla", "Noah", "Ava", "Leo", "Mia", "Jack", "Ivy", "Harry"]
FAMILY = ["Hart", "Stone", "Moss", "Lane", "Reed", "Shaw", "Ward", "Cole", "Page", "Webb"]
HERE = Path(__file__).resolve().parent


def person(n: int) -> dict[str, Any]:
    """The n-th synthetic child's identity (deterministic, so searches can be built from n)."""
    born = date(2010, 1, 1) + timedelta(days=n % 4383)
    return {
        "given_name": f"{GIVEN[n % 10]}{n % 97}",
        "family_name": f"{FAMILY[(n // 10) % 10]}{n % 89}",
        "birth_date": born.isoformat(),
        "sex": "female" if n % 2 else "male",
        "addresses": [{"lines": [f"{n} Bench Road"], "postcode": f"YO{n % 30} {n % 9}AB"}],
    }


def _payload(n: int, source: str, agency: str, facts: dict[str, Any]) -> dict[str, Any]:
    return {
        "provenance": {
            "source": source,
            "record_id": f"{source[:3]}-{n}",
            "batch_id": "bench",
            "received_at": "2026-11-01T00:00:00+00:00",
        },
        "agency": agency,
        "identity": person(n),
        agency: facts,
    }


def _records(n: int) -> list[tuple[str, str, dict[str, Any]]]:
    found = [
        (
            "education__ehe_register",
            "education",
            {"ehe": [{"registered_on": "2026-01-01"}], "enrolments": []},
        )
    ]
    if n % 2 == 0:
        found.append(
            (
                "health__fhir_patient",
                "health",
                {"gp_practice_ods": "B82001", "last_contact_date": "2026-06-01"},
            )
        )
    if n % 5 == 0:
        found.append(
            (
                "social_care__case_db",
                "social_care",
                {"referrals": [{"start_date": "2025-01-01"}], "lead_team": "Team A"},
            )
        )
    return found


def populate(url: str, children: int) -> None:
    """N children, their source records and links, by COPY (fast enough for a million)."""
    now = datetime.now(UTC)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy("COPY child (child_id, created_at, restricted) FROM STDIN") as copy:
            for n in range(children):
                copy.write_row((f"C-{n:08d}", now, n % 100 == 0))
        columns = (
            "source, record_id, version, is_current, agency, batch_id, received_at, "
            "content_hash, nhs_number, upn, birth_date, restricted, payload"
        )
        with cur.copy(f"COPY source_record ({columns}) FROM STDIN") as copy:
            for n in range(children):
                for source, agency, facts in _records(n):
                    payload = _payload(n, source, agency, facts)
                    copy.write_row(
                        (
                            source,
                            payload["provenance"]["record_id"],
                            1,
                            True,
                            agency,
                            "bench",
                            now,
                            f"{n:064d}",
                            None,
                            None,
                            payload["identity"]["birth_date"],
                            False,
                            json.dumps(payload),
                        )
                    )
        link_columns = "source, record_id, child_id, state, origin, rule, evidence, updated_at"
        with cur.copy(f"COPY link ({link_columns}) FROM STDIN") as copy:
            for n in range(children):
                for source, _, _ in _records(n):
                    copy.write_row(
                        (
                            source,
                            f"{source[:3]}-{n}",
                            f"C-{n:08d}",
                            "MATCH",
                            "AUTO",
                            "bench",
                            "{}",
                            now,
                        )
                    )
        cur.execute(
            "CREATE TABLE bench_bare_write (id bigserial PRIMARY KEY, child_id text,"
            " at timestamptz DEFAULT now())"
        )
        cur.execute("ANALYZE")


def serve(target: str, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
        "--app-dir",
        str(HERE),
    ]
    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"{target} did not start on port {port}")


async def _client(
    client: httpx.AsyncClient,
    url: str,
    make_body: Any,
    headers: dict[str, str],
    until: float,
    latencies: list[float],
    statuses: dict[int, int],
) -> None:
    while time.perf_counter() < until:
        body = make_body()
        started = time.perf_counter()
        response = await client.post(url, json=body, headers=headers)
        latencies.append(time.perf_counter() - started)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1


async def _measure(
    url: str, make_body: Any, headers: dict[str, str], clients: int, seconds: float
) -> tuple[list[float], dict[int, int], float]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        warm_until = time.perf_counter() + 1.5
        await asyncio.gather(
            *(_client(client, url, make_body, headers, warm_until, [], {}) for _ in range(clients))
        )
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(
            *(
                _client(client, url, make_body, headers, until, latencies, statuses)
                for _ in range(clients)
            )
        )
        elapsed = time.perf_counter() - started
    return latencies, statuses, elapsed


def report(name: str, latencies: list[float], statuses: dict[int, int], elapsed: float) -> float:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    rate = len(latencies) / elapsed
    print(
        f"{name:18} {len(latencies):>8} {rate:>9.0f} {cuts[49] * 1000:>8.1f} "
        f"{cuts[94] * 1000:>8.1f} {cuts[98] * 1000:>8.1f}  {dict(sorted(statuses.items()))}"
    )
    return rate


def main() -> None:
    children = int(os.environ.get("BENCH_API_CHILDREN", "20000"))
    clients = int(os.environ.get("BENCH_API_CLIENTS", "16"))
    seconds = float(os.environ.get("BENCH_API_SECONDS", "10"))
    workers = int(os.environ.get("BENCH_API_WORKERS", "2"))
    given_url = os.environ.get("BENCH_API_INDEX_URL")
    name = None
    if given_url is None:
        name = f"ehe_bench_api_{uuid.uuid4().hex[:8]}"
        try:
            psycopg.connect(PG_ADMIN, connect_timeout=3).close()
        except psycopg.OperationalError:
            print(f"API benchmark skipped: no PostgreSQL at {PG_ADMIN} (set EHE_TEST_PG_ADMIN)")
            return
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    url = given_url or f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    try:
        run(url, children, clients, seconds, workers)
    finally:
        if name:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(url: str, children: int, clients: int, seconds: float, workers: int) -> None:
    with temporary_gateway(url):
        from gateway.access.tokens import LocalIssuer
        from gateway.access.users import load_demo_users
        from gateway.store.migrate import upgrade

        upgrade(url)
        started = time.perf_counter()
        populate(url, children)
        print(
            f"API benchmark: {children} children on PostgreSQL (loaded in "
            f"{time.perf_counter() - started:.0f} s), {clients} clients, {workers} API workers, "
            f"{seconds:.0f} s each, audit written on every request"
        )
        token = LocalIssuer().issue(load_demo_users()["erin.ehe"], lifetime_seconds=3600)
        headers = {"Authorization": f"Bearer {token}"}
        env = {
            **os.environ,
            "EHE_RATE_LIMIT_PER_MINUTE": "100000000",
            "EHE_RATE_LIMIT_BURST": "100000000",
        }
        rng = random.Random(7)

        def lookup_body() -> dict[str, Any]:
            return {"child_id": f"C-{rng.randrange(children):08d}", "purpose": "ehe_enquiry"}

        def search_body() -> dict[str, Any]:
            who = person(rng.randrange(children))
            return {
                "purpose": "ehe_enquiry",
                "family_name": who["family_name"],
                "given_name": who["given_name"],
                "birth_date": who["birth_date"],
            }

        def bare_body() -> dict[str, Any]:
            return {"child_id": f"C-{rng.randrange(children):08d}"}

        print(
            f"{'endpoint':18} {'requests':>8} {'per s':>9} {'p50 ms':>8} {'p95 ms':>8} "
            f"{'p99 ms':>8}  statuses"
        )
        rates = {}
        for label, target, path, body in (
            ("child summary", "gateway.api.app:create_app", "/api/v1/lookup", lookup_body),
            ("demographic search", "gateway.api.app:create_app", "/api/v1/search", search_body),
            ("bare PK read+insert", "bare_app:create_bare_app", "/bare", bare_body),
        ):
            port = _free_port()
            process = serve(target, port, workers, env)
            try:
                result = asyncio.run(
                    _measure(f"http://127.0.0.1:{port}{path}", body, headers, clients, seconds)
                )
            finally:
                process.terminate()
                process.wait(timeout=30)
            rates[label] = report(label, *result)
        share = rates["child summary"] / rates["bare PK read+insert"]
        print(
            f"child summaries at {share:.0%} of the bare endpoint's rate "
            f"(targets: >= 1000 summaries/s with p99 <= 50 ms; search p99 <= 150 ms)"
        )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    main()
