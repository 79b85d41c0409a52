"""GX Data Docs for the recorded validation runs, built when a report is built (never in the
batch path).

The batch path keeps a small summary per run (per expectation: checked and failed). Here each
run becomes a GX validation result with those counts and no failing values, so the Data Docs
can be read by anyone allowed to read the report.
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from datetime import UTC
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gateway import config
from gateway.settings import set_library_environment
from gateway.store.engine import session_factory
from gateway.store.tables import Batch, ValidationRun

RUNS_PER_SOURCE = 20


def build_data_docs(folder: Path, *, index_url: str | None = None) -> Path:
    """Build the Data Docs site in ``folder``; return its index page."""
    set_library_environment()
    import great_expectations as gx

    import gateway.validation.custom_expectations  # noqa: F401  (registers ours for rendering)
    from gateway.logs import quiet_third_parties

    quiet_third_parties()
    shutil.rmtree(folder, ignore_errors=True)
    context = gx.get_context(mode="file", project_root_dir=str(folder))
    with session_factory(index_url)() as session:
        rows = session.execute(
            select(ValidationRun, Batch.source)
            .join(Batch, Batch.batch_id == ValidationRun.batch_id)
            .order_by(Batch.source, ValidationRun.created_at.desc())
        ).all()
    kept: dict[str, int] = defaultdict(int)
    for run, source in rows:
        kept[source] += 1
        if kept[source] <= RUNS_PER_SOURCE:
            for suite, entries in _by_suite(run.summary).items():
                _store(context, run, source, suite, entries)
    sites = context.build_data_docs()
    return Path(str(sites["local_site"]).removeprefix("file://"))


def _by_suite(summary: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in summary:
        grouped[str(entry.get("suite", "canonical_child"))].append(entry)
    return grouped


def _store(
    context: Any, run: ValidationRun, source: str, suite: str, entries: list[dict[str, Any]]
) -> None:
    from great_expectations.core import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    results = [ExpectationValidationResult(**_result(entry)) for entry in entries]
    passed = sum(1 for r in results if r.success)
    created = run.created_at if run.created_at.tzinfo else run.created_at.replace(tzinfo=UTC)
    validation = ExpectationSuiteValidationResult(
        success=passed == len(results),
        results=results,
        suite_name=suite,
        statistics={
            "evaluated_expectations": len(results),
            "successful_expectations": passed,
            "unsuccessful_expectations": len(results) - passed,
            "success_percent": 100.0 * passed / len(results) if results else 100.0,
        },
        meta={"batch_id": run.batch_id, "source": source},
    )
    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite),
        run_id=RunIdentifier(run_name=run.batch_id, run_time=created),
        batch_identifier=source,
    )
    context.validation_results_store.set(key, validation)


GATEWAY_GATE = "expect_batch_to_pass_gateway_gate"


def _known_to_gx(kind: str) -> bool:
    from great_expectations.exceptions import ExpectationNotFoundError
    from great_expectations.expectations.registry import get_expectation_impl

    import gateway.validation.custom_expectations  # noqa: F401  registers ours

    try:
        get_expectation_impl(kind)
    except ExpectationNotFoundError:
        return False
    return True


def _result(entry: dict[str, Any]) -> dict[str, Any]:
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    checked, failed = int(entry["checked"]), int(entry["failed"])
    kwargs = _suite_kwargs(str(entry.get("suite", "canonical_child"))).get(str(entry["rule"]))
    if kwargs is None:  # a gate computed outside the suite (row count): its column, if any
        column = entry.get("column")
        kwargs = {"column": column} if column and "," not in column else {}
    kind = str(entry["type"])
    if not _known_to_gx(kind):  # a gate of the gateway's own (held share, records counted)
        kind, kwargs = GATEWAY_GATE, {"gate": kind}
    config = ExpectationConfiguration(
        type=kind,
        kwargs=kwargs,
        meta={"rule": entry["rule"], "severity": entry["severity"]},
    )
    share = 100.0 * failed / checked if checked else 0.0
    return {
        "success": failed == 0,
        "expectation_config": config,
        "result": {
            "element_count": checked,
            "unexpected_count": failed,
            "unexpected_percent": share,
            "unexpected_percent_nonmissing": share,
            "missing_count": 0,
            "missing_percent": 0.0,
            "partial_unexpected_list": [],
        },
    }


def _suite_kwargs(suite: str) -> dict[str, dict[str, Any]]:
    """Each rule's kwargs as its committed suite states them (Data Docs render from these)."""
    path = config.EXPECTATIONS_DIR / f"{suite}.json"
    if not path.exists():
        return {}
    document = json.loads(path.read_text(encoding="utf-8"))
    return {
        str(e.get("meta", {}).get("rule")): dict(e.get("kwargs", {}))
        for e in document.get("expectations", [])
    }
