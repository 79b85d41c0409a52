"""``ehe-gateway report ...``: reports for IG officers (each report adds its command here)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.app import command_group

report_app = command_group("report", "Reports for IG officers.")


@report_app.command("validation")
def report_validation(
    out: Annotated[Path, typer.Option(help="Folder to write the report into")],
    pdf: Annotated[bool, typer.Option(help="Also print it to PDF (needs Chromium)")] = True,
    data_docs: Annotated[bool, typer.Option(help="Also build GX Data Docs for the runs")] = True,
) -> None:
    """What was checked, what failed and what became of it, per source and run (HTML, PDF)."""
    from gateway.reports.pdf import no_pdf_note
    from gateway.reports.validation_report import build_validation_report

    files = build_validation_report(out, pdf=pdf, data_docs=data_docs)
    typer.echo(f"HTML: {files.html}")
    if files.pdf:
        typer.echo(f"PDF: made, {files.pdf}")
    elif pdf:
        typer.echo(no_pdf_note())
    if files.data_docs:
        typer.echo(f"Data Docs: {files.data_docs}")
