"""DAG files: they import cleanly, follow the house rules, parse fast, and really run."""

from __future__ import annotations

import ast
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.registry import CONNECTORS
from gateway.sources import LINK_DAG_ID, airflow_pools, ingest_dag_id, source_names

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
DAG_FILES = sorted(DAGS.glob("*.py"))
EXPECTED_DAGS = {ingest_dag_id(s) for s in CONNECTORS} | {
    LINK_DAG_ID,
    "report__validation",
    "report__assurance",
    "monitor__freshness",
    "audit__checkpoint",
    "notify__teams",
}
# What parsing the DAG files must not load: the work's libraries and the core's heavy parts
# (tasks import them when they run).
HEAVY = (
    "pandas",
    "great_expectations",
    "splink",
    "fhir",
    "hl7apy",
    "gateway.pipeline",
    "gateway.store",
    "gateway.linkage",
    "gateway.validation",
    "gateway.lookup",
    "gateway.api",
    "gateway.synth",
)


def _airflow_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(
        {
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "EHE_DATA_DIR": str(tmp_path / "data"),
        }
    )
    return env


def test_dag_files_import_only_the_orchestration_builders() -> None:
    for path in DAG_FILES:
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.startswith("gateway.orchestration."), f"{path.name} imports {name}"


def test_dag_files_are_thin() -> None:
    for path in DAG_FILES:
        assert len(path.read_text().splitlines()) <= 20, f"{path.name}: a DAG file is configuration"


def test_pools_written_for_the_deployment_are_the_ones_tasks_use(tmp_path: Path) -> None:
    """A task whose pool does not exist is never scheduled: ``ehe-gateway sources
    --airflow-pools`` (docker-compose's airflow-init imports what it writes) has each
    connector's pool."""
    from typer.testing import CliRunner

    from gateway.cli import app

    out = tmp_path / "pools.json"
    result = CliRunner().invoke(app, ["sources", "--airflow-pools", str(out)])
    assert result.exit_code == 0, result.output
    pools = json.loads(out.read_text())
    assert pools == airflow_pools()
    assert set(pools) == {cls.pool for cls in CONNECTORS.values()}
    assert len(pools) == len(CONNECTORS), "one pool per source"
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "ehe-gateway sources --airflow-pools /tmp/ehe-pools.json" in compose
    assert "airflow pools import /tmp/ehe-pools.json" in compose


@pytest.mark.airflow
def test_airflow_cli_lists_every_dag_from_a_plain_shell(tmp_path: Path) -> None:
    """``airflow dags list --local``, as an operator types it (no PYTHONPATH, the DAGs folder
    as the Makefile sets it), parses every DAG file with no import error."""
    env = _airflow_env(tmp_path)
    airflow = str(Path(sys.executable).with_name("airflow"))
    migrate = subprocess.run(
        [airflow, "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    listed = subprocess.run(
        [airflow, "dags", "list", "--local", "--output", "json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert "Failed to load" not in listed.stderr, listed.stderr[-3000:]
    (table,) = [line for line in listed.stdout.splitlines() if line.startswith("[{")]
    dags = json.loads(table)
    assert {d["dag_id"] for d in dags} == EXPECTED_DAGS


@pytest.mark.airflow
def test_dagbag_imports_without_errors_and_follows_policy(tmp_path: Path) -> None:
    """Parse every DAG file with Airflow itself, in a clean process, and check the policy."""
    script = f"""
import json, sys
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag
bag = BundleDagBag(dag_folder={str(DAGS)!r}, bundle_path=Path({str(DAGS)!r}))
errors = {{k: str(v)[:300] for k, v in bag.import_errors.items()}}
heavy = sorted(m for m in sys.modules if m.startswith({HEAVY!r}))
out = {{"errors": errors, "heavy": heavy, "dags": {{}}}}
for dag_id, dag in bag.dags.items():
    out["dags"][dag_id] = {{
        "tags": sorted(dag.tags), "retries": {{t.task_id: t.retries for t in dag.tasks}},
        "catchup": dag.catchup, "tasks": [t.task_id for t in dag.tasks],
        "max_active_runs": dag.max_active_runs, "schedule": str(dag.schedule),
        "pools": sorted({{t.pool for t in dag.tasks}}),
    }}
print(json.dumps(out))
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=_airflow_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["errors"] == {}
    assert report["heavy"] == [], "parsing the DAG files loads what only tasks need"
    dags = report["dags"]
    assert set(dags) == EXPECTED_DAGS
    for dag_id, info in dags.items():
        layer = dag_id.split("__")[0]
        assert layer in ("ingest", "link", "report", "monitor", "audit", "notify"), dag_id
        # Every task retries, but `held`: it only says a gate held a batch, and so it would again.
        retried = {task: r for task, r in info["retries"].items() if task != "held"}
        assert all(r >= 1 for r in retried.values()), f"{dag_id}: every task retries"
        if layer == "ingest":
            assert info["retries"]["held"] == 0, f"{dag_id}: a held batch is not retried"
        assert info["catchup"] is False
        assert info["max_active_runs"] == 1
        assert info["tags"], dag_id
    assurance = dags["report__assurance"]
    assert assurance["tasks"] == ["build_assurance_report"]
    assert assurance["schedule"] == "@monthly" and assurance["tags"] == ["report"]
    for source, cls in CONNECTORS.items():
        ingest = dags[ingest_dag_id(source)]
        assert ingest["tasks"] == ["land", "stage", "load", "held"]
        assert ingest["pools"] == [cls.pool]
        assert ingest["schedule"] == cls.schedule
        assert cls.agency in ingest["tags"]


@pytest.mark.airflow
@pytest.mark.slow
def test_full_dag_run(tmp_path: Path, inbox: Path) -> None:
    """Every DAG, run by Airflow (dag.test()) on SQLite metadata, as `make demo` runs them."""
    env = _airflow_env(tmp_path)
    env["EHE_INBOX"] = str(inbox)
    env.pop("EHE_INDEX_URL", None)
    cli = str(Path(sys.executable).with_name("ehe-gateway"))
    subprocess.run([cli, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    run = subprocess.run(
        [cli, "run-dags", "--all"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    workers = sorted((tmp_path / "airflow" / "dag-runs").glob("*/worker-*.log"))
    log = "\n".join(p.read_text() for p in workers)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:] + log[-3000:]
    states = dict(line.split()[:2] for line in run.stdout.splitlines() if "__" in line.split()[0])
    assert states == {
        dag_id: "success" for dag_id in [ingest_dag_id(s) for s in source_names()] + [LINK_DAG_ID]
    }
    accounting = subprocess.run(
        [cli, "accounting", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    # the demo made every source's Connection (land read through it) and every pool
    metadata = sqlite3.connect(tmp_path / "airflow" / "airflow.db")
    conns = {c for (c,) in metadata.execute("SELECT conn_id FROM connection")}
    assert conns == {f"ehe_{s}" for s in source_names()}
    pools = {p for (p,) in metadata.execute("SELECT pool FROM slot_pool")}
    assert set(airflow_pools()) <= pools and "ehe_source__health__fhir_api" in pools
    rows = json.loads(accounting.stdout)
    assert sorted(r["source"] for r in rows) == source_names()
    for r in rows:
        assert r["received"] == r["loaded"] + r["quarantined"] + r["rejected"] > 0
    summary = subprocess.run(
        [cli, "summary"], env=env, capture_output=True, text=True, check=True, timeout=120
    )
    assert "Children known to more than one agency" in summary.stdout
    _assert_no_canary_anywhere(tmp_path, inbox)


def _canaries(inbox: Path, limit: int = 60) -> set[str]:
    """Names, birth dates, UPNs and NHS numbers of synthetic children, as the sources send them."""
    import csv
    from datetime import datetime

    found: set[str] = set()
    register = inbox / "education" / "ehe_register" / "ehe_cme_register.csv"
    with register.open(newline="", encoding="utf-8") as handle:
        for row in list(csv.DictReader(handle))[:limit]:
            found |= {f"{row['Forename']} {row['Surname']}", row["UPN"], row["DOB"]}
            try:
                found.add(datetime.strptime(row["DOB"], "%d/%m/%Y").date().isoformat())
            except ValueError:  # a defective row (an impossible date): held, not a canary
                pass
    lines = (inbox / "health" / "fhir" / "Patient.ndjson").read_text().splitlines()[:limit]
    for line in lines:
        patient = json.loads(line)
        found |= {i["value"] for i in patient.get("identifier", []) if "nhs-number" in i["system"]}
    return {c for c in found if c}


def _assert_no_canary_anywhere(tmp_path: Path, inbox: Path) -> None:
    """Every log file, XCom value, run config and alert of the run is free of personal data."""

    canaries = _canaries(inbox)
    assert len(canaries) > 100
    airflow_home = tmp_path / "airflow"
    texts = {str(p): p.read_text(errors="replace") for p in airflow_home.rglob("*.log")}
    texts |= {str(p): p.read_text() for p in (tmp_path / "data").rglob("alerts.jsonl")}
    # dag.test() writes every task's log to the runner's output (one file per runner process),
    # and the runner copies each task's part where the Airflow UI reads it
    assert any("task_id=load" in t for n, t in texts.items() if "/dag-runs/" in n)
    task_logs = {n for n in texts if "/logs/dag_id=" in n}
    for dag_id in [ingest_dag_id(s) for s in source_names()]:
        for task_id in ("land", "stage", "load"):
            assert any(f"dag_id={dag_id}/" in n and f"task_id={task_id}/" in n for n in task_logs)
    metadata = sqlite3.connect(airflow_home / "airflow.db")
    xcoms = [str(v) for (v,) in metadata.execute("SELECT value FROM xcom")]
    assert xcoms, "the XCom values were searched"
    texts["xcom"] = "\n".join(xcoms)
    texts["dag_run.conf"] = "\n".join(
        str(v) for (v,) in metadata.execute("SELECT conf FROM dag_run")
    )
    for name, text in texts.items():
        leaked = sorted(c for c in canaries if c in text)
        assert not leaked, f"personal data in {name}: {len(leaked)} value(s)"


def test_parallel_runners_share_ingest_dags_and_link_after_all() -> None:
    """Runner processes each take a DAG nobody has claimed; linkage waits for every ingest."""
    from gateway.orchestration import run_sharing as runner

    order = ["ingest__a", "ingest__b", "link__children", "ingest__c"]
    assert runner.must_finish_first(order, 0) == set()
    assert runner.must_finish_first(order, 1) == set()
    assert runner.must_finish_first(order, 2) == {"ingest__a", "ingest__b"}
    assert runner.must_finish_first(order, 3) == {"ingest__a", "ingest__b", "link__children"}


def test_a_dag_is_claimed_by_one_runner_only(tmp_path: Path) -> None:
    from gateway.orchestration import run_sharing as runner

    assert runner.claim(tmp_path, "ingest__a") is True
    assert runner.claim(tmp_path, "ingest__a") is False
    assert runner.claim(tmp_path, "ingest__b") is True


def test_waiting_for_dags_reads_only_whole_result_lines(tmp_path: Path) -> None:
    """A line another process is still writing does not count as that DAG's result."""
    import threading

    from gateway.orchestration import run_sharing as runner

    results = tmp_path / "runs.jsonl"
    results.write_text('{"dag_id": "ingest__a", "state": "success", "seconds": 1}\n{"dag_id"')
    waiter = threading.Thread(target=runner.wait_for, args=(results, {"ingest__a", "ingest__b"}))
    waiter.start()
    waiter.join(timeout=2 * runner.WAIT_S)
    assert waiter.is_alive(), "ingest__b has no whole line yet"
    results.write_text(
        '{"dag_id": "ingest__a", "state": "success", "seconds": 1}\n'
        '{"dag_id": "ingest__b", "state": "failed", "seconds": 2}\n'
    )
    waiter.join(timeout=30)
    assert not waiter.is_alive()
