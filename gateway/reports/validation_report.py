"""Build the validation report for IG officers: HTML with charts, a PDF of it, and GX Data Docs.

Everything is built here, when the report is asked for, never in the batch path. The report
reads counts and reasons from the index (``validation_data``); it never reads a failing value.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from gateway.glossary import long_date, words
from gateway.pipeline.loading import max_held_share
from gateway.reports.pdf import CHROMIUM, chromium_available, print_pdf
from gateway.reports.validation_charts import outcome_by_source, runs_trend
from gateway.reports.validation_data import (
    GATE_SHARE_RULE,
    ValidationReport,
    build_report,
    explanations,
)
from gateway.store.engine import session_factory

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    pdf: Path | None
    data_docs: Path | None


def build_validation_report(
    out: Path,
    *,
    index_url: str | None = None,
    pdf: bool = True,
    data_docs: bool = True,
    now: datetime | None = None,
) -> ReportFiles:
    """Write ``validation.html`` (and ``validation.pdf``, ``data_docs/``) into ``out``."""
    out = out.resolve()  # the page links to Data Docs by absolute file URI: copies keep it
    out.mkdir(parents=True, exist_ok=True)
    with session_factory(index_url)() as session:
        report = build_report(session, now or datetime.now(UTC))
    docs = None
    if data_docs:
        from gateway.reports.data_docs import build_data_docs

        docs = build_data_docs(out / "data_docs", index_url=index_url)
    html = out / "validation.html"
    link = docs.resolve().as_uri() if docs else None
    html.write_text(render_html(report, link), encoding="utf-8")
    if pdf and not chromium_available():
        log.warning("no Chromium at %s: the report is written without its PDF", CHROMIUM)
        pdf = False
    pdf_file = (
        print_pdf(
            html,
            out / "validation.pdf",
            margin_mm=(18, 18, 12, 12),
            scale=0.8,
            title=f"Validation report: every run up to {long_date(report.generated_at)} UTC",
        )
        if pdf
        else None
    )
    log.info("validation report written to %s (%d sources)", out, len(report.sources))
    return ReportFiles(html, pdf_file, docs)


def render_html(report: ValidationReport, data_docs: str | None = None) -> str:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"])
    )
    texts = explanations()

    def gate_text(source: str, rule: str) -> str:
        if rule == GATE_SHARE_RULE:
            return f"more than {max_held_share():.0%} of its records failed serious checks"
        for (_suite, name), (text, _severity) in texts.items():
            if name == rule:
                return text
        return rule

    return environment.get_template("validation.html").render(
        report=report,
        titles={s.source: words(s.source) for s in report.sources},
        overview_svg=outcome_by_source(report.sources) if report.sources else "",
        trend_svgs={s.source: runs_trend(s) for s in report.sources},
        gate_text=gate_text,
        data_docs=data_docs,
    )


def build_scheduled_report(index_url: str | None = None) -> str:
    """What the ``report__validation`` DAG runs: the report into ``EHE_REPORTS_DIR``
    (default: ``reports/validation`` in the data folder); returns the HTML's path."""
    from gateway import config

    out = config.reports_dir() / "validation"
    return str(build_validation_report(out, index_url=index_url).html)
