"""Task logs for runs made with ``dag.test()`` (the demo's ``ehe-gateway run-dags``).

``dag.test()`` runs each task in the runner's own process and writes no task log file, so the
Airflow UI's Logs tab would be blank. Each runner process writes its output to a file of its
own; after a DAG run, the lines between Airflow's ``[DAG TEST] starting task_id=...`` and
``[DAG TEST] end task task_id=...`` markers are written to the file the UI reads for that task
instance (Airflow's own log path template, under ``[logging] base_log_folder``).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

START = re.compile(r"\[DAG TEST\] starting task_id=(?P<task>\S+) map_index=(?P<index>-?\d+)")
END = re.compile(r"\[DAG TEST\] end task task_id=(?P<task>\S+) map_index=(?P<index>-?\d+)")
# A line as Airflow's console renderer writes it: time, [level], the event and its fields.
CONSOLE = re.compile(
    r"^(?P<timestamp>\d{4}-\d\d-\d\dT\S+Z) \[(?P<level>[a-z]+)\s*\] (?P<event>.*)$"
)
# The event's tail: ``[logger]`` then the fields, ``loc=file.py:line`` among them.
LOGGER = re.compile(r"^(?P<event>.*?) +\[(?P<logger>[A-Za-z_][\w.]*)\](?P<fields>(?: \S+=.*)?)$")
LOC = re.compile(r" loc=\S+")


def output_position() -> int:
    """Where this process's output (stdout, a file) has got to, everything written flushed."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        return os.lseek(sys.stdout.fileno(), 0, os.SEEK_CUR)
    except (OSError, ValueError):  # not a file (a terminal, a pipe): nothing to split
        return -1


def split_by_task(text: str) -> dict[tuple[str, int], list[str]]:
    """Each task's lines (markers included), by (task id, map index), in order of appearance."""
    found: dict[tuple[str, int], list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if match := START.search(line):
            current = found.setdefault((match["task"], int(match["index"])), [])
        if current is not None:
            current.append(line)
        if END.search(line):
            current = None
    return found


def as_json_line(line: str) -> str:
    """A line as the UI reads a task log (JSON: timestamp, level, event, logger), so its level
    filter and times work; a line of another shape (a traceback's) is kept as it is."""
    match = CONSOLE.match(line)
    if not match:
        return line
    entry = match.groupdict()
    if tail := LOGGER.match(entry["event"]):
        fields = LOC.sub("", tail["fields"])
        entry.update(event=tail["event"] + fields, logger=tail["logger"])
    return json.dumps(entry)


def write_task_logs(output: Path, since: int, dag_id: str, run_id: str) -> list[Path]:
    """Write each task's lines of this run (output from ``since`` on) where the UI reads them."""
    if since < 0 or not output.exists():
        return []
    output_position()
    with output.open("rb") as handle:
        handle.seek(since)
        text = handle.read().decode("utf-8", errors="replace")
    by_task = split_by_task(text)
    written = []
    for key, path in _log_paths(dag_id, run_id).items():
        lines = by_task.get(key)
        if not lines:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.writelines(as_json_line(line) + "\n" for line in lines)
        written.append(path)
    return written


def _log_paths(dag_id: str, run_id: str) -> dict[tuple[str, int], Path]:
    """Each task instance's log file, by (task id, map index)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        tis = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        )
        return {(ti.task_id, ti.map_index): _render(ti, session) for ti in tis}


def _render(ti: Any, session: Any) -> Path:
    """The task instance's log file, as Airflow's file task handler names it."""
    from airflow.configuration import conf
    from airflow.utils.log.file_task_handler import FileTaskHandler

    folder = conf.get("logging", "base_log_folder")
    relative = FileTaskHandler(folder)._render_filename(ti, ti.try_number, session=session)
    return Path(folder) / relative
