"""The assurance report as HTML (trend charts as inline SVG with accessible names), CSV and PDF,
and the scheduled run (``build_monthly_report``: last calendar month, as the DAG runs it).

Only counts leave this module, as published (suppressed where small): never a child.
"""

from __future__ import annotations

import csv
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2

from gateway.glossary import long_date, words
from gateway.reports.assurance import (
    AGENCY_COLUMNS,
    SEEN_WINDOWS,
    AssuranceReport,
    Period,
    build_assurance_report,
)
from gateway.reports.pdf import chromium_available, print_pdf
from gateway.reports.sharing_render import _figure, _svg, generated_at
from gateway.reports.suppression import FEWER_THAN, NOT_SHOWN

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).resolve().parent / "templates"
BLUE, GREEN, ORANGE, RED = "#1d70b8", "#00703c", "#f47738", "#d4351c"
FILES = {"html": "assurance.html", "csv": "assurance.csv", "pdf": "assurance.pdf"}
# The figures, in the order of the tables and the CSV, with their plain names.
FIGURES: dict[str, str] = {
    "registered": "Children on the EHE register at the end of the period",
    "new": "New to the register in the period",
    "ended": "Left the register in the period",
    "gp": "On the register and matched to a GP",
    "care_now": "On the register and known to social care now",
    "care_ever": "On the register and ever known to social care",
    "plan": "On the register and on a child protection plan",
    "looked_after": "On the register and looked after",
    **{
        f"seen{m}_{a}": f"Seen by {words(a).lower() if a != 'any' else 'any agency'} "
        f"in the last {m} months"
        for m in SEEN_WINDOWS
        for a in AGENCY_COLUMNS
    },
    "unseen": "Flagged unseen (no contact from any agency for the caseload's window)",
    "unseen_never": "Flagged unseen, with no contact on record at all",
    "removed": "Removed from a school roll to home education in the period",
    "checked": "Of those, looked up by an EHE officer since",
    "unchecked": "Of those, not yet looked up by an EHE officer",
}
MEDIANS = {
    "days_to_check": "Median days from removal from roll to the first EHE officer's lookup",
    "days_unseen": "Median days since the last contact, of children flagged unseen",
}


def percent(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def headlines(report: AssuranceReport) -> list[tuple[str, str]]:
    """The figures for the last month of the period (for the page's top and ``make demo``)."""
    month = report.months()[-1]
    lines = [
        ("On the EHE register", report.text(month, "registered")),
        ("Matched to a GP", _with_share(report, month, "gp")),
        ("Known to social care now", _with_share(report, month, "care_now")),
        ("Seen by any agency in 6 months", _with_share(report, month, "seen6_any")),
        ("Flagged unseen", _with_share(report, month, "unseen")),
    ]
    wait = report.median(month, "days_to_check")
    lines.append(("Median days to first check", "not shown" if wait is None else f"{wait:g}"))
    return lines


def _with_share(report: AssuranceReport, period: Period, figure: str) -> str:
    share = report.share(period, figure)
    shown = report.text(period, figure)
    return f"{shown} ({percent(share)})" if share is not None else shown


def _trend(report: AssuranceReport, title: str, lines: dict[str, str], *, shares: bool) -> str:
    """One line per figure over the months (a suppressed month is a gap in its line)."""
    months = report.months()
    labels = [m.start.strftime("%b %Y") for m in months]
    figure = _figure(7.5, 2.8)
    axes = figure.subplots()
    parts = []
    for (name, label), colour in zip(lines.items(), (BLUE, GREEN, ORANGE, RED), strict=False):
        values = [report.share(m, name) if shares else report.count(m, name) for m in months]
        plotted = [float("nan") if v is None else (100 * v if shares else v) for v in values]
        axes.plot(labels, plotted, marker="o", color=colour, label=label)
        said = [
            f"{m.label}: {percent(v) if shares else v}"
            if v is not None
            else f"{m.label}: not shown"
            for m, v in zip(months, values, strict=True)
        ]
        parts.append(f"{label}: " + ", ".join(said))
    axes.set_title(title, loc="left", fontsize=14, fontweight="bold")
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_ylim(bottom=0, top=100 if shares else max(axes.get_ylim()[1], 1))
    if shares:
        axes.set_ylabel("% of children on the register")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=11)
    axes.tick_params(labelsize=11)
    if len(labels) > 6:
        figure.autofmt_xdate()
    return _svg(figure, title, "; ".join(parts))


def charts(report: AssuranceReport) -> dict[str, str]:
    return {
        "register": _trend(
            report,
            "Children on the EHE register, and flagged unseen",
            {"registered": "on the register", "unseen": "flagged unseen"},
            shares=False,
        ),
        "agencies": _trend(
            report,
            "Share of children on the register known to other agencies",
            {
                "gp": "matched to a GP",
                "care_now": "known to social care now",
                "seen6_any": "seen by any agency in 6 months",
                "seen3_any": "seen by any agency in 3 months",
            },
            shares=True,
        ),
    }


def report_context(report: AssuranceReport, *, with_files: bool) -> dict[str, object]:
    """What the report's templates need (the standalone file and the service's page alike)."""
    return {
        "report": report,
        "charts": charts(report),
        "headlines": headlines(report),
        "figures": FIGURES,
        "medians": MEDIANS,
        "windows": SEEN_WINDOWS,
        "seen_figures": {m: [f"seen{m}_{a}" for a in AGENCY_COLUMNS] for m in SEEN_WINDOWS},
        "percent": percent,
        "fewer_than": FEWER_THAN,
        "not_shown": NOT_SHOWN,
        "with_files": with_files,
        "generated": generated_at(),
    }


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    env.filters["words"] = words
    env.filters["long_date"] = long_date
    return env


def render_html(report: AssuranceReport, *, with_files: bool = True) -> str:
    context = report_context(report, with_files=with_files)
    return environment().get_template("assurance.html").render(**context)


def csv_rows(report: AssuranceReport) -> list[dict[str, Any]]:
    """One row per period and figure: the count as published and its share of the register."""
    rows: list[dict[str, Any]] = []
    for period in report.periods:
        base = {
            "period": period.key,
            "kind": period.kind,
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
        }
        for figure, label in FIGURES.items():
            share = report.share(period, figure) if figure not in ("registered", "new") else None
            shown = report.text(period, figure)
            rows.append(
                {
                    **base,
                    "figure": figure,
                    "meaning": label,
                    "count": shown,
                    "share_of_register": "" if share is None else f"{share:.3f}",
                }
            )
        for name, label in MEDIANS.items():
            value = report.median(period, name)
            rows.append(
                {
                    **base,
                    "figure": name,
                    "meaning": label,
                    "count": NOT_SHOWN if value is None else f"{value:g}",
                    "share_of_register": "",
                }
            )
    for source in report.sources:
        rows.append(
            {
                "period": f"{report.start.isoformat()}/{report.end.isoformat()}",
                "kind": "source",
                "from": report.start.isoformat(),
                "to": report.end.isoformat(),
                "figure": f"source:{source.source}",
                "meaning": (
                    f"{source.deliveries} deliveries; records received {source.received}, "
                    f"loaded {source.loaded}, quarantined {source.quarantined}, "
                    f"rejected {source.rejected}; {'stale' if source.stale else 'fresh'}"
                ),
                "count": source.received,
                "share_of_register": "",
            }
        )
    return rows


def write_csv(report: AssuranceReport, path: Path) -> None:
    fields = ["period", "kind", "from", "to", "figure", "meaning", "count", "share_of_register"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(csv_rows(report))


def pdf_title(report: AssuranceReport) -> str:
    return f"Partnership assurance report, {long_date(report.start)} to {long_date(report.end)}"


def write_report(report: AssuranceReport, out: Path, *, pdf: bool = True) -> list[Path]:
    """Write assurance.html, assurance.csv and (unless ``pdf`` is False) assurance.pdf."""
    if not report.suppressed:
        raise ValueError("an unsuppressed assurance report is never written out")
    out.mkdir(parents=True, exist_ok=True)
    html_path = out / FILES["html"]
    html_path.write_text(render_html(report), encoding="utf-8")
    csv_path = out / FILES["csv"]
    write_csv(report, csv_path)
    written = [html_path, csv_path]
    if pdf:
        pdf_path = out / FILES["pdf"]
        print_pdf(html_path, pdf_path, margin_mm=(18, 18, 12, 12), title=pdf_title(report))
        written.append(pdf_path)
    log.info("assurance report: %s periods, %s files written", len(report.periods), len(written))
    return written


def last_month(today: date) -> tuple[date, date]:
    """The calendar month before ``today``'s."""
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def build_monthly_report(index_url: str | None = None, today: date | None = None) -> str:
    """What the ``report__assurance`` DAG runs: the last 12 months to the end of last month,
    into ``EHE_REPORTS_DIR``/assurance (PDF too where chromium is installed); returns the HTML's
    path."""
    from gateway import clock, config
    from gateway.store.engine import session_factory

    day = today or clock.today()
    _, end = last_month(day)
    start = (end.replace(day=1) - timedelta(days=334)).replace(day=1)
    with session_factory(index_url)() as session:
        report = build_assurance_report(session, start, end, today=day, now=datetime.now(UTC))
    out = config.reports_dir() / "assurance"
    files = write_report(report, out, pdf=chromium_available())
    return str(files[0])
