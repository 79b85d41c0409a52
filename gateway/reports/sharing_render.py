"""The data-sharing report as HTML (charts as inline SVG from matplotlib), CSV and PDF.

The PDF is the HTML printed by chromium (Playwright's ``page.pdf``), so both read the same.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

import jinja2

from gateway.glossary import WORDS, long_date, words
from gateway.reports.pdf import print_pdf
from gateway.reports.sharing import SharingReport, disclosure_rows

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).resolve().parent / "templates"
GREEN, RED = "#00703c", "#d4351c"


def _figure(width: float, height: float) -> Any:
    """A matplotlib Figure without pyplot (no global state: safe in a web server's threads),
    text kept as text in the SVG, Arial where installed."""
    import matplotlib
    from matplotlib.figure import Figure

    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    matplotlib.rcParams.update(
        {
            "svg.fonttype": "none",
            "font.family": "sans-serif",
            "font.sans-serif": ["Arial", "Liberation Sans", "DejaVu Sans"],
        }
    )
    return Figure(figsize=(width, height))


def _svg(figure: object, name: str, description: str) -> str:
    """The figure as inline SVG with an accessible name: ``role="img"``, a ``<title>`` and a
    ``<desc>`` (the same figures are in the table that follows each chart)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")  # type: ignore[attr-defined]
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    ident = "chart-" + "".join(c if c.isalnum() else "-" for c in name.lower())
    opening = text.index(">") + 1
    head = text[:opening].replace(
        "<svg ", f'<svg role="img" aria-labelledby="{ident}-title {ident}-desc" ', 1
    )
    labels = (
        f'<title id="{ident}-title">{escape(name)}</title>'
        f'<desc id="{ident}-desc">{escape(description)}</desc>'
    )
    return head + labels + text[opening:]


def _finish(axes: Any, counts_on: str = "x") -> None:
    """Whole-number count ticks, and the legend outside the plot so it hides no bar."""
    from matplotlib.ticker import MaxNLocator

    axis = axes.xaxis if counts_on == "x" else axes.yaxis
    axis.set_major_locator(MaxNLocator(integer=True))
    # Counts start at 0, and an empty period still has a readable 0..1 scale.
    if counts_on == "x":
        axes.set_xlim(left=0, right=max(axes.get_xlim()[1], 1))
    else:
        axes.set_ylim(bottom=0, top=max(axes.get_ylim()[1], 1))
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=12)
    axes.tick_params(labelsize=12)  # readable once the chart is scaled to a page or a phone


def bar_chart(title: str, table: dict[str, Counter[str]]) -> str:
    """Horizontal stacked bars (disclosed, refused) per key, as an inline SVG string."""
    keys = sorted(table, key=lambda k: sum(table[k].values()))
    shown = [words(k) if k in WORDS else k for k in keys]
    disclosed = [table[k]["disclosed"] for k in keys]
    refused = [table[k]["refused"] for k in keys]
    figure = _figure(7.5, 0.7 + 0.5 * max(len(keys), 1))
    axes = figure.subplots()
    axes.barh(shown or ["(none)"], disclosed or [0], color=GREEN, label="disclosed")
    axes.barh(
        shown or ["(none)"], refused or [0], left=disclosed or [0], color=RED, label="refused"
    )
    axes.set_title(title, loc="left", fontsize=14, fontweight="bold")
    axes.spines[["top", "right"]].set_visible(False)
    _finish(axes)
    parts = [
        f"{k}: {d} disclosed, {r} refused"
        for k, d, r in zip(shown, disclosed, refused, strict=True)
    ]
    return _svg(figure, title, "; ".join(reversed(parts)) or "No requests")


def day_chart(report: SharingReport) -> str:
    """Requests on every day of the period, disclosed and refused, as an inline SVG string."""
    from matplotlib.dates import DateFormatter

    days = [report.start + timedelta(days=n) for n in range((report.end - report.start).days + 1)]
    disclosed = [report.per_day.get(d, Counter())["disclosed"] for d in days]
    refused = [report.per_day.get(d, Counter())["refused"] for d in days]
    figure = _figure(7.5, 2.6)
    axes = figure.subplots()
    axes.bar(days, disclosed, width=0.8, color=GREEN, label="disclosed")
    axes.bar(days, refused, width=0.8, bottom=disclosed, color=RED, label="refused")
    title = "Requests per day (UTC)"
    axes.set_title(title, loc="left", fontsize=14, fontweight="bold")
    axes.spines[["top", "right"]].set_visible(False)
    _finish(axes, counts_on="y")
    axes.xaxis.set_major_formatter(DateFormatter("%-d %b"))  # 29 Nov, as the pages write dates
    figure.autofmt_xdate()
    busiest = max(range(len(days)), key=lambda n: disclosed[n] + refused[n]) if days else 0
    description = (
        f"{sum(disclosed)} disclosed and {sum(refused)} refused over {len(days)} days; "
        f"the busiest day was {long_date(days[busiest])}"
    )
    return _svg(figure, title, description)


def report_context(
    report: SharingReport, *, with_files: bool, csv_link: str = ""
) -> dict[str, object]:
    """What the report's templates need (the standalone file and the service's page alike)."""
    return {
        "report": report,
        "charts": {
            "organisation": bar_chart("Requests by organisation", report.by_organisation),
            "role": bar_chart("Requests by role", report.by_role),
            "purpose": bar_chart("Requests by purpose", report.by_purpose),
            "days": day_chart(report),
        },
        "rows": disclosure_rows(report),
        "with_files": with_files,
        "csv_link": csv_link,
        "generated": generated_at(),
    }


def generated_at() -> str:
    return long_date(datetime.now(UTC).replace(second=0, microsecond=0)) + " UTC"


def render_html(report: SharingReport, *, with_files: bool = True) -> str:
    """The report page; ``with_files`` when written beside disclosures.csv."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    environment.filters["words"] = words
    environment.filters["long_date"] = long_date
    context = report_context(report, with_files=with_files)
    return environment.get_template("sharing.html").render(**context)


def pdf_title(report: SharingReport) -> str:
    """The running title of every PDF page: the report and its period."""
    return f"Data sharing report, {long_date(report.start)} to {long_date(report.end)}"


def write_csv(report: SharingReport, path: Path) -> None:
    rows = disclosure_rows(report)
    fields = ["child_id", "organisation", "role", "times", "purposes", "first", "last"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def write_report(report: SharingReport, out: Path, *, pdf: bool = True) -> list[Path]:
    """Write sharing.html, disclosures.csv and (unless ``pdf`` is False) sharing.pdf to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    html_path = out / "sharing.html"
    html_path.write_text(render_html(report), encoding="utf-8")
    csv_path = out / "disclosures.csv"
    write_csv(report, csv_path)
    written = [html_path, csv_path]
    if pdf:
        pdf_path = out / "sharing.pdf"
        print_pdf(html_path, pdf_path, margin_mm=(18, 18, 12, 12), title=pdf_title(report))
        written.append(pdf_path)
    log.info("sharing report: %s requests, %s files written", report.requests, len(written))
    return written
