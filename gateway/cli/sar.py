"""``ehe-gateway sar``: a subject access export for one child (IG officers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.app import app


@app.command()
def sar(
    child_id: Annotated[str, typer.Option("--child-id", help="The child's id in the index")],
    out: Annotated[Path, typer.Option(help="Where to write the JSON export")],
    by: Annotated[str, typer.Option("--by", help="The IG officer exporting (audited)")],
    organisation: Annotated[str, typer.Option(help="The IG officer's organisation")] = "LA",
) -> None:
    """Everything the index holds about a child and every disclosure of it, as JSON."""
    from gateway.access.audit import Actor
    from gateway.reports.subject_access import UnknownChildError, audited_subject_access
    from gateway.store.engine import session_factory

    with session_factory()() as session:
        try:
            export = audited_subject_access(
                session, Actor(by, organisation, "ig_officer"), child_id
            )
        except UnknownChildError as exc:
            raise typer.BadParameter(str(exc), param_hint="--child-id") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(export, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    counts = ", ".join(
        f"{len(value)} {name.replace('_', ' ')}"
        for name, value in export.items()
        if isinstance(value, list)
    )
    typer.echo(f"wrote {out}: {counts}")
