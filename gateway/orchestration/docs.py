"""The pages the Airflow UI shows for each DAG and task (``doc_md``): what it reads (Connection
id and shape), its pool, its gates, how it fails and the runbook (what to check, which command
mends what). Built from the connector registry and the settings, so they never drift from what
runs. Markdown; no personal data (there is none here to show).
"""

from __future__ import annotations

import sys

from connectors.registry import connector_class
from gateway.orchestration.connections import connection_id, shape
from gateway.settings import settings

RELEASE = "ehe-gateway quarantine release --batch BATCH_ID --by YOUR_NAME"
GATED = "ehe-gateway quarantine list --status gated"
REPORT = "ehe-gateway report validation --out data/reports/validation"


def quarantine_command(batch: str) -> str:
    """The exact command that reprocesses a held batch once its cause is mended."""
    return RELEASE.replace("BATCH_ID", batch)


def _gates(source: str) -> str:
    cls = connector_class(source)
    snapshot = (
        "- **row count**: a whole snapshot far in size from the last one loaded is held "
        "(`row_count_near_last_run`);\n"
        if cls.full_snapshot
        else ""
    )
    return (
        f"{snapshot}- **record count**: records counted in the file without the parser differ "
        "from those read (`records_counted_match`);\n"
        f"- **held share**: more than {settings().max_held_share:.0%} of a batch's records held "
        f"by the suite (`held_share_within_limit`; batches under {settings().gate_min_records} "
        "records are judged record by record).\n\n"
        "A gate holds **a batch, not the feed**: the other batches load and are published, "
        "the load task's log says `HELD` in one line (batch, the checks and their counts, the "
        "release command), the alert `batch_gated` is raised once, the Asset event's `extra` "
        "counts it under `gated`, and the `held` task then fails the run in one line so it "
        "shows as failed."
    )


def ingest_doc(source: str) -> str:
    """The ingest DAG's page."""
    cls = connector_class(source)
    module = sys.modules[cls.__module__].__doc__ or ""
    delivery = "a whole snapshot each time" if cls.full_snapshot else "changes"
    demo = "" if cls.in_demo else "\n\nNot in `ehe-gateway run-dags --all`: the demo has no server."
    found = shape(source)
    return f"""### {source}: {cls.description}

| | |
| --- | --- |
| reads | Connection `{connection_id(source)}`: a {found.kind}, {found.expected}; without it, \
`EHE_SOURCE_{source.upper()}_*` or the inbox |
| pool | `{cls.pool}` (work against this system at once) |
| schedule | `{cls.schedule}`, Europe/London; delivers {delivery} |
| expected | a good batch at least every {cls.stale_after_hours:g} h (`monitor__freshness`); \
a run not finished {settings().arrival_deadline_hours:g} h after its scheduled time raises \
`late_arrival` |
| publishes | Asset `index__{source}` (counts per batch in the event's `extra`) -> \
`link__children` |

**Tasks**: `land` (extract what is new, keep it byte for byte) -> `stage` (map and validate each
batch) -> `load` (load or hold each batch).

**Gates**

{_gates(source)}

**Runbook**

- `land` failed *fatal* (one line: `FatalConfigError`, `UnreadablePathError`): the Connection
  or path is wrong; its log names the path or URL it read. Mend, then *Clear* the task.
- `land` failed *retriable* (`RetriableSourceError`): the source is out of reach; Airflow
  retries with backoff. Check the system, then *Clear*.
- a batch held: `{GATED}`, then read why in the validation report; once mended,
  `{RELEASE}`.
- counts for every batch: `ehe-gateway accounting` (per source and batch).
{demo}

{module}"""


LAND_DOC = """Extracts what is new since the bookmark; lands each file unchanged (hash, batch id).
Logs the path or URL read (never credentials). Fails at once, in one line, on a Connection of
the wrong shape or a path that cannot be read; retries when the source is out of reach.
Returns the batch ids to load (ids only, never data)."""

STAGE_DOC = """Maps each landed batch to canonical records and validates them with the
Great Expectations suites; a record that fails a check is quarantined with its reasons. Its log
links the validation report and the Data Docs in the reports folder."""

LOAD_DOC = """Loads each staged batch into the index, or holds it whole when a gate fails (one
`HELD` line with the checks, counts and the release command; alert `batch_gated`). Publishes
the source's Asset with per-batch counts (received, loaded, quarantined, rejected, gated)."""

HELD_DOC = """Fails, in one line, when `load` held a batch whole (a gate failed): the run shows as
failed in the UI while the batches that passed were loaded and published (the Asset event was
sent by `load`). Not retried. Runbook: `ehe-gateway quarantine list --status gated`, mend the
source or the configuration, then `ehe-gateway quarantine release --batch BATCH --by NAME`."""

LINK_DOC = f"""### link__children

Runs when any source's Asset `index__<source>` has a new event (the FHIR API's included):
links every new and changed source record to a stable child id (rules, then Splink) and
publishes Asset `index__children`, which starts `report__validation`.

| | |
| --- | --- |
| reads | the index (`EHE_INDEX_URL`); no Connection |
| pool | `default_pool` |
| failure | a missing or untrained model, or the index out of reach: one line, then alert |

**Runbook**: `ehe-gateway linkage train --if-missing` (no model yet);
`ehe-gateway link --full` (re-link everything); `ehe-gateway linkage --help` (review queue).
Validation results of the last run: `{REPORT}`."""

LINK_TASK_DOC = """Links new and changed records; returns counts only (records, links made,
possible matches sent to review)."""

REPORT_DOC = f"""### report__validation

Runs on Asset `index__children` (after linkage, so the report describes linked data): writes
the IG officers' validation report and the GX Data Docs into the reports folder
(`EHE_REPORTS_DIR`, default `data/reports`), `validation/validation.html` and
`validation/data_docs/`.

| | |
| --- | --- |
| reads | the index's batches and validation runs; no Connection |
| pool | `default_pool` |
| failure | the index out of reach, or the reports folder not writable |

**Runbook**: the task's log and return value give both paths; rebuild by hand with
`{REPORT}`; held batches: `{GATED}`."""

REPORT_TASK_DOC = """Builds the validation report and Data Docs; logs and returns their paths."""
