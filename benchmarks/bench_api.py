"""Benchmark: the lookup API on PostgreSQL, 16 concurrent clients, audit written every request.

Measures child summaries (POST /api/v1/lookup) and demographic searches (POST /api/v1/search)
with p50/p95/p99 and requests a second, and, in the same run against the same database, the
yardstick (``bare_app``): the fastest bare stack doing the same read and insert (an async
endpoint, a psycopg async pool, one ``WITH ... INSERT ... SELECT`` statement); prints our rate
as a share of it.

Size with BENCH_API_CHILDREN (default 20000; the target is 1000000), clients with
BENCH_API_CLIENTS (16), seconds per measurement with BENCH_API_SECONDS (10), API worker
processes with BENCH_API_WORKERS (2). The index is a new PostgreSQL database on
EHE_TEST_PG_ADMIN's server (dropped afterwards) unless BENCH_API_INDEX_URL names one: an empty
one is populated and kept, one an earlier run populated is reused as it is (populating a
million children takes a while). Searches are ranked by a linkage model trained on a sample of
the population at the start of each run.

The load comes from wrk (Debian's ``wrk`` package: compiled, one thread, keep-alive) when it
is installed, else from httpx in this process (BENCH_API_CLIENT=httpx forces that); httpx
spends several times the CPU of the server it measures, on a machine where they share the
cores. Each row also says how many CPU cores the load generator, the API workers, the
database's backends and the whole machine used during the measurement.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
from workspace import temporary_gateway

from gateway.linkage.blocking import blocking_keys
from gateway.linkage.clustering import LinkCandidate
from gateway.linkage.probabilistic import PersonRow, person_from_identity, train_model

PG_ADMIN = os.environ.get("EHE_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
GIVEN = ["Amelia", "Oliver", "Isla", "Noah", "Ava", "Leo", "Mia", "Jack", "Ivy", "Harry"]
FAMILY = ["Hart", "Stone", "Moss", "Lane", "Reed", "Shaw", "Ward", "Cole", "Page", "Webb"]
HERE = Path(__file__).resolve().parent
BODIES = 50_000  # request bodies drawn at random, sent in turn
TRAINING_CHILDREN = 12_000  # the linkage model the search ranks with is trained on these


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
        with cur.copy("COPY link_key (key, source, record_id) FROM STDIN") as copy:
            for row in _link_keys(children):
                copy.write_row(row)
        cur.execute(
            "CREATE TABLE bench_bare_write (id bigserial PRIMARY KEY, child_id text,"
            " at timestamptz DEFAULT now())"
        )
        cur.execute("ANALYZE")


def _people(children: int) -> Iterator[PersonRow]:
    """What linkage compares of each record (as a link run reads it)."""
    for n in range(children):
        for source, _, _ in _records(n):
            yield person_from_identity((source, f"{source[:3]}-{n}"), person(n), None, None)


def _link_keys(children: int) -> Iterator[tuple[str, str, str]]:
    """Each record's blocking keys, as a link run stores them (demographic search reads them)."""
    for row in _people(children):
        source, record_id = row.key
        for key in blocking_keys(LinkCandidate(source, record_id, None, None), row):
            yield key, source, record_id


def train(children: int) -> float:
    """A linkage model trained on a sample of the population (``linkage train`` does the same
    on a real index); returns the seconds it took."""
    started = time.perf_counter()
    train_model(list(_people(min(children, TRAINING_CHILDREN))))
    return time.perf_counter() - started


def populated_children(url: str) -> int:
    """How many children a database given to reuse already holds (0: populate it)."""
    with psycopg.connect(url) as conn:
        (count,) = conn.execute("SELECT count(*) FROM child").fetchone() or (0,)
    return int(count)


def serve(target: str, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """uvicorn with uvloop and httptools (named, so a missing one fails loudly), no access log."""
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
        "--loop",
        "uvloop",
        "--http",
        "httptools",
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


@dataclass
class Measured:
    """One endpoint's run: latencies in seconds (or wrk's percentiles), statuses, CPU seconds."""

    requests: int
    elapsed: float
    p50: float
    p95: float
    p99: float
    statuses: dict[str, int]
    cpu: dict[str, float] = field(default_factory=dict)


class CpuMeter:
    """CPU seconds between ``start`` and ``stop`` used by the API server (all its workers), by
    the PostgreSQL backends connected to the benchmark's database, and by the whole machine
    (which shows what else was running)."""

    def __init__(self, server: subprocess.Popen[bytes], database: str) -> None:
        self.server = psutil.Process(server.pid)
        self.database = database
        self.before: dict[tuple[str, int], float] = {}
        self.machine_before = 0.0

    def _processes(self) -> list[tuple[str, psutil.Process]]:
        found = [("api", p) for p in (self.server, *self.server.children(recursive=True))]
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,)
            ).fetchall()
        return found + [("database", psutil.Process(pid)) for (pid,) in rows]

    def _seconds(self) -> dict[tuple[str, int], float]:
        used = {}
        for kind, process in self._processes():
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            used[(kind, process.pid)] = times.user + times.system
        return used

    @staticmethod
    def _machine_busy() -> float:
        times = psutil.cpu_times()
        return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))

    def start(self) -> None:
        self.before = self._seconds()
        self.machine_before = self._machine_busy()

    def stop(self) -> dict[str, float]:
        after = self._seconds()
        used = {"api": 0.0, "database": 0.0}
        for key, seconds in after.items():  # a process started meanwhile counts from zero
            used[key[0]] += seconds - self.before.get(key, 0.0)
        used["whole machine"] = self._machine_busy() - self.machine_before
        return used


def measure_wrk(
    url: str,
    bodies: list[dict[str, Any]],
    auth: str,
    clients: int,
    seconds: float,
    meter: CpuMeter,
) -> Measured:
    """Drive the endpoint with wrk (one thread, ``clients`` keep-alive connections)."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as handle:
        handle.write("\n".join(json.dumps(b) for b in bodies) + "\n")
        lines = handle.name
    base, path = url.split("/", 3)[:3], "/" + url.split("/", 3)[3]
    try:

        def run(duration: float, first_line: int) -> tuple[dict[str, Any], float]:
            command = [
                "wrk", "-t1", f"-c{clients}", f"-d{duration:.0f}s", "--timeout", "30s",
                "-s", str(HERE / "wrk_load.lua"), "/".join(base),
                "--", path, auth, lines, str(first_line),
            ]  # fmt: skip
            process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            _, _, usage = os.wait4(process.pid, 0)
            output = process.stdout.read() if process.stdout else ""
            process.returncode = 0
            figures = json.loads(output.strip().splitlines()[-1])
            return figures, usage.ru_utime + usage.ru_stime

        run(2, len(bodies) // 2)  # warm-up: connections, pools, caches
        meter.start()
        figures, client_cpu = run(seconds, 0)
        cpu = meter.stop()
    finally:
        os.unlink(lines)
    ok = figures["requests"] - figures["non_2xx"]
    return Measured(
        requests=figures["requests"],
        elapsed=figures["duration_us"] / 1e6,
        p50=figures["p50_us"] / 1e6,
        p95=figures["p95_us"] / 1e6,
        p99=figures["p99_us"] / 1e6,
        statuses={
            "2xx": ok,
            "other": figures["non_2xx"],
            "socket errors": figures["socket_errors"],
        },
        cpu={"client": client_cpu, **cpu},
    )


async def _client(
    client: httpx.AsyncClient,
    url: str,
    bodies: list[dict[str, Any]],
    headers: dict[str, str],
    until: float,
    latencies: list[float],
    statuses: dict[int, int],
) -> None:
    while time.perf_counter() < until:
        body = random.choice(bodies)
        started = time.perf_counter()
        response = await client.post(url, json=body, headers=headers)
        latencies.append(time.perf_counter() - started)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1


async def measure_httpx(
    url: str,
    bodies: list[dict[str, Any]],
    auth: str,
    clients: int,
    seconds: float,
    meter: CpuMeter,
) -> Measured:
    """The fallback where wrk is not installed: httpx in this process (costs far more CPU)."""
    headers = {"Authorization": auth}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        warm_until = time.perf_counter() + 2
        await asyncio.gather(
            *(_client(client, url, bodies, headers, warm_until, [], {}) for _ in range(clients))
        )
        meter.start()
        cpu_before = time.process_time()
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(
            *(
                _client(client, url, bodies, headers, until, latencies, statuses)
                for _ in range(clients)
            )
        )
        elapsed = time.perf_counter() - started
        client_cpu = time.process_time() - cpu_before
        cpu = meter.stop()
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return Measured(
        requests=len(latencies),
        elapsed=elapsed,
        p50=cuts[49],
        p95=cuts[94],
        p99=cuts[98],
        statuses={str(k): v for k, v in sorted(statuses.items())},
        cpu={"client": client_cpu, **cpu},
    )


def report(name: str, measured: Measured) -> float:
    rate = measured.requests / measured.elapsed
    cores = " ".join(f"{k} {v / measured.elapsed:.2f}" for k, v in measured.cpu.items())
    print(
        f"{name:20} {measured.requests:>8} {rate:>8.0f} {measured.p50 * 1000:>7.1f} "
        f"{measured.p95 * 1000:>7.1f} {measured.p99 * 1000:>7.1f}  {measured.statuses}"
        f"\n{'':20} CPU cores used: {cores}"
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
        held = populated_children(url)
        if held:  # BENCH_API_INDEX_URL named a database populated by an earlier run: reuse it
            children, loaded = held, "reused, already populated"
        else:
            populate(url, children)
            loaded = f"loaded in {time.perf_counter() - started:.0f} s"
        trained = train(children)
        print(
            f"API benchmark: {children} children on PostgreSQL ({loaded}; linkage model "
            f"trained on {min(children, TRAINING_CHILDREN)} of them in {trained:.0f} s), "
            f"{clients} clients, {workers} API workers, {seconds:.0f} s each, audit written on "
            "every request"
        )
        token = LocalIssuer().issue(load_demo_users()["erin.ehe"], lifetime_seconds=3600)
        env = {
            **os.environ,
            "EHE_RATE_LIMIT_PER_MINUTE": "100000000",
            "EHE_RATE_LIMIT_BURST": "100000000",
        }
        rng = random.Random(7)
        picks = [rng.randrange(children) for _ in range(BODIES)]
        lookups = [{"child_id": f"C-{n:08d}", "purpose": "ehe_enquiry"} for n in picks]
        searches = [
            {
                "purpose": "ehe_enquiry",
                "family_name": who["family_name"],
                "given_name": who["given_name"],
                "birth_date": who["birth_date"],
            }
            for who in map(person, picks)
        ]
        probes = [{"child_id": f"C-{n:08d}"} for n in picks]
        wanted = os.environ.get("BENCH_API_CLIENT", "wrk")
        use_wrk = wanted == "wrk" and shutil.which("wrk") is not None
        measure = measure_wrk if use_wrk else _httpx_measure
        if use_wrk:
            tool = "wrk (one thread, keep-alive connections)"
        elif wanted == "wrk":
            tool = "httpx in this process (wrk not found: `apt-get install wrk`)"
        else:
            tool = "httpx in this process (BENCH_API_CLIENT)"
        print(f"load generator: {tool}; load before: {_load()}")
        print(
            f"{'endpoint':20} {'requests':>8} {'per s':>8} {'p50 ms':>7} {'p95 ms':>7} "
            f"{'p99 ms':>7}  statuses"
        )
        rates = {}
        # BENCH_API_ONLY=lookup,bare measures only those (while developing one of them)
        only = os.environ.get("BENCH_API_ONLY", "lookup,search,bare").split(",")
        for label, target, path, bodies in (
            ("child summary", "gateway.api.app:create_app", "/api/v1/lookup", lookups),
            ("demographic search", "gateway.api.app:create_app", "/api/v1/search", searches),
            ("bare async 1-statement", "bare_app:create_bare_app", "/bare", probes),
        ):
            if path.rsplit("/", 1)[1] not in only:
                continue
            port = _free_port()
            process = serve(target, port, workers, env)
            try:
                meter = CpuMeter(process, url.rsplit("/", 1)[1])
                result = measure(
                    f"http://127.0.0.1:{port}{path}",
                    bodies,
                    f"Bearer {token}",
                    clients,
                    seconds,
                    meter,
                )
            finally:
                process.terminate()
                process.wait(timeout=30)
            rates[label] = report(label, result)
        if "child summary" not in rates or "bare async 1-statement" not in rates:
            return
        share = rates["child summary"] / rates["bare async 1-statement"]
        print(
            f"child summaries at {share:.2f} of the yardstick's rate (the fastest bare stack: "
            f"async endpoint, psycopg pool, one read-and-insert statement; aim >= 0.75; "
            f"targets: >= 1400 summaries/s with p99 <= 50 ms; search p99 <= 150 ms); "
            f"load after: {_load()}"
        )


def _httpx_measure(
    url: str,
    bodies: list[dict[str, Any]],
    auth: str,
    clients: int,
    seconds: float,
    meter: CpuMeter,
) -> Measured:
    return asyncio.run(measure_httpx(url, bodies, auth, clients, seconds, meter))


def _load() -> str:
    return " ".join(f"{n:.2f}" for n in os.getloadavg())


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    main()
