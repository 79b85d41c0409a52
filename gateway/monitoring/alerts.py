"""Alerts: a failed task or a stale source, said in the log and kept as a JSON line.

The orchestrator's failure callback calls ``raise_alert``; what it says is a source, a batch id,
a DAG and task id and a reason that holds no record contents. The alerts file (in the data
folder) is what a monitoring agent or the metrics endpoint reads.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gateway import config

log = logging.getLogger("gateway.alerts")


@dataclass(frozen=True)
class Alert:
    kind: str  # "task_failed" or "stale_source"
    source: str | None
    reason: str
    dag_id: str | None = None
    task_id: str | None = None
    batch: str | None = None
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


def alerts_file() -> Path:
    return config.data_dir() / "alerts.jsonl"


def raise_alert(alert: Alert) -> None:
    log.error(
        "ALERT %s: source %s, batch %s, dag %s, task %s: %s",
        alert.kind,
        alert.source or "(all)",
        alert.batch or "(none)",
        alert.dag_id or "-",
        alert.task_id or "-",
        alert.reason,
    )
    path = alerts_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(asdict(alert)) + "\n")


def read_alerts() -> list[Alert]:
    path = alerts_file()
    if not path.exists():
        return []
    return [Alert(**json.loads(line)) for line in path.read_text().splitlines() if line]
