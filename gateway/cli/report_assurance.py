"""``ehe-gateway report assurance``: the partnership assurance report (HTML, CSV, PDF).

Counts only, small numbers suppressed; prints the last month's headline figures (``make demo``
shows them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.report_sharing import _report_group


def report_assurance(
    start: Annotated[
        datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day, YYYY-MM-DD")
    ],
    end: Annotated[
        datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day, inclusive")
    ],
    out: Annotated[
        Path, typer.Option(help="Folder for assurance.html, assurance.pdf, assurance.csv")
    ],
    pdf: Annotated[bool, typer.Option(help="Also print the PDF with chromium")] = True,
) -> None:
    """How well the partnership sees EHE children, per month and quarter: the register, GP and
    social care, real contacts by agency, unseen children, removal to first check, sources."""
    from gateway import clock
    from gateway.reports.assurance import build_assurance_report
    from gateway.reports.assurance_render import headlines, write_report
    from gateway.reports.pdf import chromium_available, no_pdf_note
    from gateway.store.engine import session_factory

    if end < start:
        raise typer.BadParameter("--to is before --from")
    with session_factory()() as session:
        report = build_assurance_report(
            session, start.date(), end.date(), today=clock.today(), now=datetime.now(UTC)
        )
    printable = pdf and chromium_available()
    for path in write_report(report, out, pdf=printable):
        typer.echo(f"wrote {path}")
    if pdf and not printable:
        typer.echo(no_pdf_note())
    month = report.months()[-1]
    typer.echo(f"Assurance, {month.label} (counts of 1 to 4 shown as fewer than 5):")
    for name, value in headlines(report):
        typer.echo(f"  {name}: {value}")


_report_group().command("assurance")(report_assurance)
