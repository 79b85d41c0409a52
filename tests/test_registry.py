"""The connector registry is the one list of sources, and each connector declares how it runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.registry import CONNECTORS
from gateway.cli import app
from gateway.sources import (
    LINK_DAG_ID,
    api_source_names,
    connector_config,
    demo_dag_ids,
    full_snapshot_sources,
    source_names,
)

PRESETS = {"@hourly", "@daily", "@weekly", "@monthly", "@once"}


@pytest.mark.parametrize("source", sorted(CONNECTORS))
def test_each_connector_declares_how_it_runs(source: str) -> None:
    cls = CONNECTORS[source]
    assert cls.agency == source.split("__", 1)[0]
    assert cls.schedule in PRESETS or len(cls.schedule.split()) == 5, cls.schedule
    assert cls.pool == f"ehe_source__{source}"
    assert cls.stale_after_hours > 0
    assert (cls.inbox_folder is not None) == cls.in_demo, "the demo reads its inbox folder"


def test_pools_and_inbox_folders_are_not_shared() -> None:
    pools = [cls.pool for cls in CONNECTORS.values()]
    folders = [cls.inbox_folder for cls in CONNECTORS.values() if cls.inbox_folder]
    assert len(set(pools)) == len(pools)
    assert len(set(folders)) == len(folders)


def test_the_demo_runs_every_demo_source_then_links() -> None:
    dag_ids = demo_dag_ids()
    assert dag_ids[-1] == LINK_DAG_ID
    assert sorted(d.removeprefix("ingest__") for d in dag_ids[:-1]) == source_names()
    assert not set(source_names()) & set(api_source_names())
    assert sorted(source_names() + api_source_names()) == sorted(CONNECTORS)
    assert full_snapshot_sources() == ["social_care__cin_census", "social_care__ssda903"]


def test_synth_writes_each_demo_source_into_the_folder_its_connector_reads(
    inbox: Path,
) -> None:
    for source in source_names():
        ((key, value),) = connector_config(source).items()
        where = Path(value.removeprefix("sqlite:///")) if key == "url" else Path(value)
        assert where.is_relative_to(inbox), source
        assert where.exists() and (where.is_file() or any(where.iterdir())), source


def test_sources_command_lists_how_each_source_runs() -> None:
    result = CliRunner().invoke(app, ["sources"])
    assert result.exit_code == 0
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert sorted(rows) == sorted(CONNECTORS)
    assert "*/15 * * * *" in rows["health__hl7v2_adt"]
    assert "snapshot" in rows["social_care__cin_census"]
    assert " - " in rows["health__fhir_api"], "not in the demo"


def test_production_code_does_not_load_the_synthetic_generator() -> None:
    script = (
        "import sys, gateway.pipeline, gateway.sources, gateway.monitoring.freshness, "
        "gateway.api.app, gateway.cli; "
        "print(sorted(m for m in sys.modules if m.startswith('gateway.synth')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    assert done.stdout.strip() == "[]"
