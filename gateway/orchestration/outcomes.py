"""What the ingest and report tasks say about their work: where land read from, each batch's
counts for the Asset event, a gated batch as one readable line, and links to the reports.

Ids, counts, paths and rule names only: never a record's contents, never credentials.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.orchestration.connections import source_location, where
from gateway.orchestration.docs import quarantine_command

log = logging.getLogger(__name__)
COUNTS = ("received", "loaded", "quarantined", "rejected", "gated")


def land_step(source: str, land_source: Callable[..., list[str]]) -> Callable[[], list[str]]:
    """Land's work: read the Connection (checked against the source's shape), say which path
    or URL is read (no credentials), then land what is new. Run inside ``run_step`` so a
    Connection of the wrong shape fails at once in one line."""

    def step() -> list[str]:
        from gateway.sources import connector_config

        location = source_location(source)
        chosen = "Connection ehe_" + source if location else "the gateway's settings"
        read = where(connector_config(source, **location))
        log.info("%s: reading %s (from %s)", source, read, chosen)
        return land_source(source, **location)

    return step


def load_outcome(source: str, results: list[Any]) -> dict[str, Any]:
    """The Asset event's ``extra``: totals and each batch's counts; each gated batch said in
    one line (source, batch, the checks that held it with their counts, the command)."""
    batches = [{"batch": a.batch, **{k: getattr(a, k) for k in COUNTS}} for a in results]
    for a in results:
        if a.gate_reasons:
            log.warning(
                "HELD %s batch %s (%d records): %s. Once mended: %s",
                source,
                a.batch,
                a.received,
                "; ".join(a.gate_reasons),
                quarantine_command(a.batch),
            )
    totals = {k: sum(int(b[k]) for b in batches) for k in COUNTS}
    return {"source": source, **totals, "batches": batches}


def held_reason(source: str, loaded: list[dict[str, Any]]) -> str | None:
    """One line when a batch of this run was held whole (the ``held`` task fails with it)."""
    gated = [b for b in loaded if b.get("gate_reasons")]
    if not gated:
        return None
    batches = ", ".join(str(b["batch"]) for b in gated)
    return (
        f"HELD {source}: {len(gated)} batch(es) held whole by a gate ({batches}); the rest of "
        f"the feed was loaded. Why and how to release: ehe-gateway quarantine list --status "
        f"gated; {quarantine_command(str(gated[0]['batch']))}"
    )


def report_links() -> dict[str, str]:
    """The validation report and its Data Docs in the reports folder (``EHE_REPORTS_DIR``),
    as ``file://`` links; the Data Docs' page once a report has built it."""
    from gateway import config

    folder = config.reports_dir().resolve() / "validation"
    found = sorted(folder.glob("data_docs/**/local_site/index.html"))
    docs = found[0] if found else folder / "data_docs"
    return {
        "validation report": _link(folder / "validation.html"),
        "Data Docs": _link(docs),
    }


def _link(path: Path) -> str:
    return path.as_uri()
