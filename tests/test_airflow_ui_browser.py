"""The Airflow UI a data engineer watches, in a real browser (Debian's chromium, Playwright).

A small demo-shaped run (`ehe-gateway run-dags`, one ingest DAG and linkage, on a synthetic
inbox) fills an AIRFLOW_HOME; Airflow's own api-server is started on loopback against it. The
checks: every DAG is listed and none failed to import; a run's Logs tab shows the task's log
(the land task naming what it read); the Asset graph shows ingest -> link -> report. Under
CI=true it must run: a missing chromium fails it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from connectors.registry import CONNECTORS
from gateway.reports.pdf import CHROMIUM, CHROMIUM_ARGS
from gateway.sources import LINK_DAG_ID, ingest_dag_id

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() == "true"
SOURCE = "education__ehe_register"  # small and quick; any source of the demo would do
EXPECTED_DAGS = sorted({ingest_dag_id(s) for s in CONNECTORS} | {LINK_DAG_ID, "report__validation"})
UI_WAIT_MS = 30_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def airflow_home(
    tmp_path_factory: pytest.TempPathFactory, synthetic_inbox: Path
) -> Iterator[tuple[Path, str]]:
    """An AIRFLOW_HOME after a small demo run, and the base URL of Airflow's api-server (the
    UI) on a free loopback port reading it. The server starts while the DAGs run."""
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"chromium not installed at {CHROMIUM}; under CI=true this test must run")
        pytest.skip(f"chromium not installed at {CHROMIUM}")
    tmp = tmp_path_factory.mktemp("airflow-ui")
    home = tmp / "airflow"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EHE_", "AIRFLOW"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # the demo's UI has no sign-in: everyone is an admin (loopback only)
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "EHE_DATA_DIR": str(tmp / "data"),
            "EHE_INBOX": str(synthetic_inbox),
            "EHE_DAG_WORKERS": "1",
        }
    )
    home.mkdir()
    bin_dir = Path(sys.executable).parent
    cli, airflow = str(bin_dir / "ehe-gateway"), str(bin_dir / "airflow")
    for command in ([cli, "db", "upgrade"], [airflow, "db", "migrate"]):
        subprocess.run(command, env=env, check=True, capture_output=True, timeout=300)
    port = _free_port()
    log = (home / "api-server.log").open("w")
    server = subprocess.Popen(
        [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its workers too are stopped with it, by its group id
    )
    base = f"http://127.0.0.1:{port}"
    try:
        run = subprocess.run(
            [cli, "run-dags", "--dag", ingest_dag_id(SOURCE), "--dag", LINK_DAG_ID],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert run.returncode == 0, run.stdout + run.stderr[-3000:]
        _wait_until_up(server, base, home / "api-server.log")
        yield home, base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def _wait_until_up(server: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail("Airflow's api-server did not start in 180 s")


@pytest.fixture(scope="module")
def page(airflow_home: tuple[Path, str]) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            base_url=airflow_home[1],
            viewport={"width": 1440, "height": 1000},
            timezone_id="Europe/London",
        )
        yield context.new_page()
        browser.close()


def _rows(home: Path, sql: str, *params: str) -> list[tuple[object, ...]]:
    """Rows of Airflow's metadata database (SQLite in the demo)."""
    with sqlite3.connect(home / "airflow.db") as metadata:
        return metadata.execute(sql, params).fetchall()


@pytest.mark.airflow
@pytest.mark.slow
def test_every_dag_listed_and_none_failed_to_import(
    page: Page, airflow_home: tuple[Path, str]
) -> None:
    home, _ = airflow_home
    assert _rows(home, "SELECT count(*) FROM import_error") == [(0,)], "a DAG file failed"
    parsed = {str(d) for (d,) in _rows(home, "SELECT dag_id FROM dag WHERE is_stale = 0")}
    assert set(EXPECTED_DAGS) <= parsed
    page.goto("/dags")
    for dag_id in sorted(parsed):
        expect(page.get_by_role("link", name=dag_id, exact=True)).to_be_visible(timeout=UI_WAIT_MS)


@pytest.mark.airflow
@pytest.mark.slow
def test_a_runs_logs_tab_has_the_task_log(page: Page, airflow_home: tuple[Path, str]) -> None:
    home, _ = airflow_home
    ((run_id,),) = _rows(home, "SELECT run_id FROM dag_run WHERE dag_id = ?", ingest_dag_id(SOURCE))
    page.goto(f"/dags/{ingest_dag_id(SOURCE)}/runs/{run_id}/tasks/land")
    # the land task's own line, naming what it read (a path; never credentials)
    read = page.get_by_text(re.compile(rf"{SOURCE}: reading \S+ \(from Connection ehe_{SOURCE}\)"))
    expect(read).to_be_visible(timeout=UI_WAIT_MS)
    expect(page.get_by_text("Could not read served logs")).to_have_count(0)


@pytest.mark.airflow
@pytest.mark.slow
def test_the_asset_graph_shows_ingest_then_link_then_report(
    page: Page, airflow_home: tuple[Path, str]
) -> None:
    home, _ = airflow_home
    ((asset_id,),) = _rows(home, "SELECT id FROM asset WHERE name = 'index__children'")
    page.goto(f"/assets/{asset_id}")
    graph = page.locator(".react-flow")
    expect(graph).to_be_visible(timeout=UI_WAIT_MS)
    for node in (ingest_dag_id(SOURCE), f"index__{SOURCE}", LINK_DAG_ID, "report__validation"):
        expect(graph.locator(".react-flow__node", has_text=node).first).to_be_visible()
    # edges: ingest -> its Asset -> link -> index__children -> report
    assert graph.locator(".react-flow__edge").count() >= 4
    nodes = {
        name: graph.locator(".react-flow__node", has_text=name).first
        for name in (ingest_dag_id(SOURCE), LINK_DAG_ID, "report__validation")
    }
    xs = {name: node.bounding_box()["x"] for name, node in nodes.items()}  # type: ignore[index]
    assert xs[ingest_dag_id(SOURCE)] < xs[LINK_DAG_ID] < xs["report__validation"], xs
