"""What the Airflow UI shows a data engineer: checked Connections, task logs split per task,
a held batch as one readable line with counts on the Asset event, and the DAGs' pages and
lineage (ingest -> link -> report)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.registry import CONNECTORS
from gateway.errors import FatalConfigError
from gateway.orchestration.connections import demo_connections, location_from, where
from gateway.orchestration.outcomes import load_outcome
from gateway.orchestration.task_logs import as_json_line, split_by_task
from gateway.pipeline.loading import Accounting
from gateway.sources import LINK_DAG_ID, connector_config, ingest_dag_id, source_names

ROOT = Path(__file__).resolve().parents[1]


def _fields(**given: object) -> dict[str, object]:
    fields: dict[str, object] = dict.fromkeys(("host", "schema", "login", "password", "port"))
    fields["extra"] = {}
    return {**fields, **given}


def test_a_file_drop_connection_gives_its_path() -> None:
    fields = _fields(extra={"path": "/drops/ctf"})
    assert location_from("education__ctf", "fs", fields) == {"path": "/drops/ctf"}


@pytest.mark.parametrize(
    ("source", "conn_type", "fields", "expected"),
    [
        # a file drop stored as another type: refused, not silently read from the inbox
        ("education__ctf", "generic", _fields(extra={"path": "/x"}), "expects type `fs`"),
        ("education__ctf", "fs", _fields(), "has no extra `path`"),
        # the case: a database Connection stored as `generic`
        ("social_care__case_db", "generic", _fields(host="db", schema="cms"), "type `postgres`"),
        ("social_care__case_db", "postgres", _fields(host="db"), "has no schema"),
        ("social_care__case_db", "sqlite", _fields(), "has no host"),
        ("health__fhir_api", "postgres", _fields(host="fhir.example"), "type `http`"),
        ("health__fhir_api", "http", _fields(), "has no host"),
    ],
)
def test_a_connection_of_the_wrong_shape_fails_saying_what_was_expected(
    source: str, conn_type: str, fields: dict[str, object], expected: str
) -> None:
    with pytest.raises(FatalConfigError, match=re.escape(expected)) as raised:
        location_from(source, conn_type, fields)
    assert f"ehe_{source}" in str(raised.value)


def test_database_and_api_connections_give_urls() -> None:
    pg = _fields(host="db", schema="cms", login="etl", password="s3cret", port=5433)
    url = location_from("social_care__case_db", "postgres", pg)["url"]
    assert url == "postgresql+psycopg://etl:s3cret@db:5433/cms"
    lite = location_from("social_care__case_db", "sqlite", _fields(host="/data/cms.sqlite"))
    assert lite == {"url": "sqlite:////data/cms.sqlite"}
    api = location_from("health__fhir_api", "http", _fields(host="fhir.example", port=8443))
    assert api == {"url": "https://fhir.example:8443"}


def test_what_land_logs_never_holds_credentials() -> None:
    assert where({"path": "/drops/ctf"}) == "/drops/ctf"
    pg = where({"url": "postgresql+psycopg://etl:s3cret@db:5433/cms?sslpassword=k3y"})
    assert pg == "postgresql+psycopg://db:5433/cms"
    api = where({"url": "https://user:pw@fhir.example/R4?token=abc"})
    assert api == "https://fhir.example/R4"
    for text in (pg, api):
        assert not any(secret in text for secret in ("s3cret", "k3y", "etl", "pw", "abc"))


def test_the_demos_connections_read_where_the_gateway_would(inbox: Path) -> None:
    """Each Connection the demo makes passes its own shape's check and points where the
    gateway's settings (the inbox) point."""
    made = demo_connections()
    assert set(made) == {f"ehe_{s}" for s in source_names()}
    for source in source_names():
        conn = dict(made[f"ehe_{source}"])
        conn_type = conn.pop("conn_type")
        conn.pop("description")
        location = location_from(source, conn_type, _fields(**conn))
        assert location == connector_config(source)


def test_task_logs_are_split_per_task_and_read_as_json() -> None:
    text = "\n".join(
        [
            "2026-11-29T10:00:00.000001Z [info     ] Filling up the DagBag [x]",
            "2026-11-29T10:00:01.000001Z [info     ] [DAG TEST] starting task_id=land map_index=-1",
            "2026-11-29T10:00:02.000001Z [warning  ] HELD education__ctf batch b1 (3 records)",
            "Traceback (most recent call last):",
            "2026-11-29T10:00:03.000001Z [info     ] [DAG TEST] end task task_id=land map_index=-1",
            "2026-11-29T10:00:04.000001Z [info     ] [DAG TEST] starting task_id=load map_index=-1",
            "2026-11-29T10:00:05.000001Z [info     ] [DAG TEST] end task task_id=load map_index=-1",
        ]
    )
    split = split_by_task(text)
    assert set(split) == {("land", -1), ("load", -1)}
    assert len(split["land", -1]) == 4 and "DagBag" not in "".join(split["land", -1])
    held = json.loads(as_json_line(split["land", -1][1]))
    assert held["level"] == "warning" and held["event"].startswith("HELD education__ctf")
    assert held["timestamp"] == "2026-11-29T10:00:02.000001Z"
    line = (
        "2026-11-29T10:00:02.000001Z [info     ] education__ctf: reading /drops (from Connection "
        "ehe_education__ctf) [gateway.orchestration.outcomes] loc=outcomes.py:32 try=1"
    )
    entry = json.loads(as_json_line(line))
    assert entry["logger"] == "gateway.orchestration.outcomes"
    assert entry["event"] == (
        "education__ctf: reading /drops (from Connection ehe_education__ctf) try=1"
    )
    marker = json.loads(as_json_line(split["land", -1][0] + " [airflow.sdk.dag] loc=dag.py:1"))
    assert marker["event"].startswith("[DAG TEST] starting task_id=land")
    assert as_json_line("Traceback (most recent call last):").startswith("Traceback")


def test_a_held_batch_is_one_readable_line_and_counted_on_the_asset_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loaded = Accounting("education__ctf", "b-good", "loaded", 10, 9, 1, 0)
    held = Accounting(
        "education__ctf",
        "b-held",
        "gated",
        40,
        0,
        0,
        0,
        gated=40,
        gate_reasons=("held_share_within_limit failed (30 of 40 records held)",),
    )
    with caplog.at_level(logging.INFO, logger="gateway.orchestration.outcomes"):
        extra = load_outcome("education__ctf", [loaded, held])
    (line,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert line.startswith("HELD education__ctf batch b-held (40 records): held_share_within")
    assert "30 of 40 records held" in line
    assert line.endswith("ehe-gateway quarantine release --batch b-held --by YOUR_NAME")
    assert "\n" not in line
    assert extra["received"] == 50 and extra["loaded"] == 9 and extra["gated"] == 40
    assert extra["quarantined"] == 1 and extra["rejected"] == 0
    assert [b["batch"] for b in extra["batches"]] == ["b-good", "b-held"]
    assert json.loads(json.dumps(extra)) == extra  # what the Asset event stores


@pytest.mark.airflow
def test_every_dag_and_task_has_its_page_and_lineage_runs_ingest_link_report(
    tmp_path: Path,
) -> None:
    """Parsed by Airflow in a clean process: every DAG and task has doc_md naming what it
    needs; ingest Assets schedule linkage, linkage's Asset schedules the report; every ingest
    DAG has its arrival deadline."""
    script = f"""
import json
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag
bag = BundleDagBag(dag_folder={str(ROOT / "dags")!r}, bundle_path=Path({str(ROOT / "dags")!r}))
def names(cond):
    if isinstance(cond, list):
        return [n for o in cond for n in names(o)]
    if hasattr(cond, "objects"):
        return [n for o in cond.objects for n in names(o)]
    return [cond.name] if hasattr(cond, "name") else []
out = {{}}
for dag_id, dag in bag.dags.items():
    out[dag_id] = {{
        "doc": dag.doc_md or "",
        "task_docs": {{t.task_id: t.doc_md or "" for t in dag.tasks}},
        "outlets": sorted(o.name for t in dag.tasks for o in t.outlets),
        "schedule_assets": sorted(names(dag.schedule)),
        "deadlines": [a.name for a in (dag.deadline or [])],
    }}
print(json.dumps(out))
"""
    env = {
        "PATH": "/usr/bin:/bin",
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "EHE_DATA_DIR": str(tmp_path / "data"),
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dags = json.loads(result.stdout.strip().splitlines()[-1])
    ours = {ingest_dag_id(s) for s in CONNECTORS} | {LINK_DAG_ID, "report__validation"}
    for dag_id in ours | {"monitor__freshness"}:
        info = dags[dag_id]
        assert len(info["doc"]) > 200, f"{dag_id} has no real page"
        for task_id, doc in info["task_docs"].items():
            assert doc, f"{dag_id}.{task_id} has no doc_md"
    ingest_assets = {f"index__{s}" for s in CONNECTORS}
    for source, cls in CONNECTORS.items():
        info = dags[ingest_dag_id(source)]
        assert f"ehe_{source}" in info["doc"] and cls.pool in info["doc"]
        assert "quarantine release --batch" in info["doc"]
        assert info["outlets"] == [f"index__{source}"]
        assert info["deadlines"] == [f"late_arrival__{source}"]
    link = dags[LINK_DAG_ID]
    assert set(link["schedule_assets"]) == ingest_assets  # the FHIR API's included
    assert link["outlets"] == ["index__children"]
    assert dags["report__validation"]["schedule_assets"] == ["index__children"]


def test_a_missed_arrival_deadline_alerts_on_the_freshness_channel(data_dir: Path) -> None:
    """The deadline's callback (awaited by Airflow's triggerer) raises ``late_arrival`` where
    ``stale_source`` goes; Airflow imports it by its path."""
    from airflow.sdk._shared.module_loading import import_string

    from gateway.monitoring.alerts import read_alerts
    from gateway.orchestration.deadlines import arrival_deadline, late_arrival

    deadline = arrival_deadline("education__ctf")
    assert import_string(deadline.callback.path) is late_arrival
    assert deadline.callback.kwargs == {"source": "education__ctf"}
    context = {"dag_run": {"dag_id": "ingest__education__ctf", "run_id": "scheduled__x"}}
    asyncio.run(late_arrival(**deadline.callback.kwargs, context=context))
    (alert,) = read_alerts()
    assert (alert.kind, alert.source, alert.dag_id) == (
        "late_arrival",
        "education__ctf",
        "ingest__education__ctf",
    )
    assert "had not finished 2 h after its scheduled time" in alert.reason


class _Lines(logging.Handler):
    """The gateway loggers' records, whatever Airflow does to the root logger meanwhile."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def gateway_lines() -> Iterator[list[str]]:
    handler = _Lines()
    loggers = [logging.getLogger(f"gateway.orchestration.{m}") for m in ("tasks", "outcomes")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    yield handler.lines
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


def test_land_through_a_wrong_connection_fails_at_once_in_one_line(
    monkeypatch: pytest.MonkeyPatch, gateway_lines: list[str], data_dir: Path
) -> None:
    """The issue's case: a Connection of the wrong type is not ignored (land would have read
    the default inbox); the task fails at once, its log says why in one line, no frames."""
    from gateway.orchestration.outcomes import land_step
    from gateway.orchestration.tasks import StepFailedFatal, run_step

    read: list[dict[str, str]] = []

    def land_source(source: str, **location: str) -> list[str]:
        read.append(location)
        return ["b1"]

    conn = "AIRFLOW_CONN_EHE_EDUCATION__CTF"
    monkeypatch.setenv(conn, json.dumps({"conn_type": "generic", "extra": {"path": "/drops"}}))
    step = land_step("education__ctf", land_source)
    with pytest.raises(StepFailedFatal) as failed:
        run_step("education__ctf", None, step, "land_source")
    reason = str(failed.value)
    assert "is type 'generic'; education__ctf is a file drop and expects type `fs`" in reason
    assert read == [], "nothing was read from anywhere else"
    assert gateway_lines == [reason], "one line, no frames"
    gateway_lines.clear()
    monkeypatch.setenv(conn, json.dumps({"conn_type": "fs", "extra": {"path": "/drops"}}))
    assert run_step("education__ctf", None, step, "land_source") == ["b1"]
    assert read == [{"path": "/drops"}]
    assert gateway_lines == ["education__ctf: reading /drops (from Connection ehe_education__ctf)"]
