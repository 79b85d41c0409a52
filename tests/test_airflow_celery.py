"""A real distributed run: Airflow 3 with the CeleryExecutor on the machine's Redis.

Starts the api-server (its execution API is what workers report to), the scheduler, the
dag-processor and a Celery worker as separate processes, on a fresh PostgreSQL metadata
database (made and dropped here) and a fresh PostgreSQL index. Triggers an ingest DAG and
waits for it and for the linkage DAG its Asset schedules to succeed. A random Redis database
number and a unique Celery queue keep this run apart from anyone else's on the machine.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import psycopg
import pytest
from conftest import IN_CI, _drop_pg_database, _make_pg_database, require_postgres

from gateway.sources import airflow_pools
from gateway.store.engine import dispose_engine
from gateway.store.migrate import upgrade

DAGS = Path(__file__).resolve().parents[1] / "dags"
REDIS = os.environ.get("EHE_TEST_REDIS", "redis://127.0.0.1:6379")
INGEST = "ingest__education__ehe_register"
LINK = "link__children"
DEADLINE_S = 420  # generous for a machine shared by many; CI alone takes far less


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS, socket_connect_timeout=3).ping())
    except redis.RedisError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def metadata_db() -> Iterator[str]:
    require_postgres()
    name, url = _make_pg_database()
    try:
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        _drop_pg_database(name)


@pytest.fixture
def pg_index(data_dir: Path) -> Iterator[str]:
    name, url = _make_pg_database()
    try:
        upgrade(url)
        dispose_engine(url)
        yield url
    finally:
        _drop_pg_database(name)


def _environment(tmp_path: Path, metadata: str, index: str, inbox: Path) -> dict[str, str]:
    port = _free_port()
    redis_db = secrets.randbelow(15) + 1
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
            # psycopg 3 serves the async engine too (asyncpg is not installed)
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": metadata,
            "AIRFLOW__CELERY__BROKER_URL": f"{REDIS}/{redis_db}",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{metadata}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": f"ehe-test-{uuid.uuid4().hex[:10]}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "EHE_INDEX_URL": index,
            "EHE_INBOX": str(inbox),
            "EHE_DATA_DIR": str(tmp_path / "data"),
            "EHE_DAG_RETRIES": "1",
            "EHE_DAG_RETRY_DELAY_S": "2",
            "GX_ANALYTICS_ENABLED": "False",
        }
    )
    return env


def _airflow(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("airflow")), *args]


def _start(stack: ExitStack, name: str, cmd: list[str], env: dict[str, str], logs: Path) -> None:
    out = (logs / f"{name}.log").open("w")
    stack.callback(out.close)
    proc = subprocess.Popen(
        cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )

    def stop() -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()

    stack.callback(stop)


def _states(metadata: str, dag_id: str, run_type: str = "%") -> list[str]:
    with psycopg.connect(metadata.replace("+psycopg", "")) as conn:
        rows = conn.execute(
            "SELECT state FROM dag_run WHERE dag_id = %s AND run_type LIKE %s ORDER BY id",
            (dag_id, run_type),
        ).fetchall()
    return [r[0] for r in rows]


def _wait_for(what: str, check: object, deadline: float, logs: Path) -> None:
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(1)
    pytest.fail(f"timed out waiting for {what}\n{_log_tails(logs)}")


def _log_tails(logs: Path) -> str:
    parts = []
    for path in sorted(logs.rglob("*.log")):
        parts.append(f"==== {path.name}\n{path.read_text(errors='replace')[-2500:]}")
    return "\n".join(parts)


@pytest.mark.airflow
@pytest.mark.slow
@pytest.mark.postgres
def test_celery_executor_runs_ingest_and_linkage(
    tmp_path: Path, inbox: Path, metadata_db: str, pg_index: str
) -> None:
    if not _redis_up():
        if IN_CI:
            pytest.fail(f"Redis is not reachable at {REDIS}; under CI=true this test must run")
        pytest.skip(f"Redis is not reachable at {REDIS}")
    env = _environment(tmp_path, metadata_db, pg_index, inbox)
    logs = tmp_path / "logs"
    logs.mkdir()
    deadline = time.monotonic() + DEADLINE_S
    migrate = subprocess.run(
        _airflow("db", "migrate"), env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert migrate.returncode == 0, migrate.stdout[-2000:] + migrate.stderr[-3000:]
    queue = env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"]
    with ExitStack() as stack:
        stack.callback(_forget_queue, env["AIRFLOW__CELERY__BROKER_URL"], queue)
        _start(stack, "api-server", _airflow("api-server", "--apps", "execution"), env, logs)
        _start(stack, "scheduler", _airflow("scheduler"), env, logs)
        _start(stack, "dag-processor", _airflow("dag-processor"), env, logs)
        worker = _airflow(
            "celery",
            "worker",
            "--queues",
            queue,
            "--concurrency",
            "2",
            "--skip-serve-logs",
            "--celery-hostname",
            f"{queue}@%h",
            "--without-mingle",
            "--without-gossip",
        )
        _start(stack, "celery-worker", worker, env, logs)
        pools = tmp_path / "pools.json"  # as docker-compose's airflow-init writes them
        pools.write_text(json.dumps(airflow_pools()))
        _start(stack, "control", [sys.executable, "-c", CONTROL, str(pools)], env, logs)
        _wait_for("the DAGs to be parsed", lambda: _parsed(metadata_db), deadline, logs)
        # Unpausing starts the latest scheduled interval (catchup is off): that one run is the
        # ingest under test (a manual trigger as well would make two ingests and two links).
        _wait_for(
            f"{INGEST} to finish",
            lambda: _finished(_states(metadata_db, INGEST, "scheduled")),
            deadline,
            logs,
        )
        assert _states(metadata_db, INGEST) == ["success"], _log_tails(logs)
        # The ingest DAG's Asset schedules the linkage DAG: no trigger needed.
        _wait_for(
            f"{LINK} to finish", lambda: _finished(_states(metadata_db, LINK)), deadline, logs
        )
        assert _states(metadata_db, LINK, "asset_triggered") == ["success"], _log_tails(logs)
    with psycopg.connect(pg_index) as conn:
        loaded = conn.execute("SELECT count(*) FROM source_record").fetchone()
        linked = conn.execute("SELECT count(*) FROM link").fetchone()
    assert loaded and loaded[0] > 0 and linked and linked[0] == loaded[0]


# One Airflow process for the operator's commands (each `airflow` command pays start-up once).
# Started with the services; waits (up to 5 minutes) for the dag-processor to have the DAGs.
# Each DAG is unpaused once the dag-processor has written it (unpausing a DAG not yet written
# does nothing, silently), the linkage DAG first: an Asset event queues a run only for consumers
# unpaused when it happens. Unpausing the ingest DAG then starts its run.
CONTROL = f"""
import sys, time
from airflow.cli import cli_parser
from airflow.models.dag import DagModel
from airflow.utils.session import create_session
parser = cli_parser.get_parser()
def run(argv):
    args = parser.parse_args(argv)
    args.func(args)
def parsed(dag_id):  # `dags unpause` of a DAG not yet written is a silent no-op
    for attempt in range(300):
        with create_session() as session:
            if session.get(DagModel, dag_id) is not None:
                return
        time.sleep(1)
    sys.exit(f"{{dag_id}} was never parsed")
run(["pools", "import", sys.argv[1]])
parsed("{LINK}")
run(["dags", "unpause", "{LINK}"])
parsed("{INGEST}")
run(["dags", "unpause", "{INGEST}"])
"""


def _parsed(metadata: str) -> bool:
    with psycopg.connect(metadata.replace("+psycopg", "")) as conn:
        try:
            rows = conn.execute(
                "SELECT dag_id FROM dag WHERE dag_id IN (%s, %s)", (INGEST, LINK)
            ).fetchall()
        except psycopg.errors.UndefinedTable:
            return False
    return len(rows) == 2


def _finished(states: list[str]) -> bool:
    return bool(states) and all(s in ("success", "failed") for s in states)


def _forget_queue(broker: str, queue: str) -> None:
    import redis

    client = redis.Redis.from_url(broker)
    for key in client.scan_iter(f"*{queue}*"):
        client.delete(key)
