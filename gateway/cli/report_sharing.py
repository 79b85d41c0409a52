"""``ehe-gateway report sharing``: the data-sharing report for IG officers (HTML, CSV, PDF).

The command attaches to the shared ``report`` group when it exists (``gateway.cli.report``),
else makes that group itself, so it works on its own and beside other reports.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.app import command_group


def report_sharing(
    start: Annotated[
        datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First UTC day, YYYY-MM-DD")
    ],
    end: Annotated[
        datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last UTC day, inclusive")
    ],
    out: Annotated[
        Path, typer.Option(help="Folder for sharing.html, sharing.pdf, disclosures.csv")
    ],
    pdf: Annotated[bool, typer.Option(help="Also print the PDF with chromium")] = True,
) -> None:
    """Lookups by organisation, role, purpose and basis; refusals; break-glass; who saw whom."""
    from gateway.reports.pdf import chromium_available, no_pdf_note
    from gateway.reports.sharing import build_sharing_report
    from gateway.reports.sharing_render import write_report
    from gateway.store.engine import session_factory

    if end < start:
        raise typer.BadParameter("--to is before --from")
    with session_factory()() as session:
        report = build_sharing_report(session, start.date(), end.date())
    printable = pdf and chromium_available()
    for path in write_report(report, out, pdf=printable):
        typer.echo(f"wrote {path}")
    if pdf and not printable:
        typer.echo(no_pdf_note())
    typer.echo(
        f"{report.requests} requests, {report.disclosed} disclosed, {report.refused} refused, "
        f"{len(report.break_glass)} break-glass uses, {len(report.children)} children disclosed"
    )


def _report_group() -> typer.Typer:
    try:  # the shared group, where another module of this package made it
        from gateway.cli.report import report_app  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return command_group("report", "Reports for IG officers and data engineers.")
    return report_app  # type: ignore[no-any-return,unused-ignore]


_report_group().command("sharing")(report_sharing)
