"""``ehe-gateway audit ...``: check the audit log's hash chain."""

from __future__ import annotations

import typer

from gateway.cli.app import command_group

audit_app = command_group("audit", "The audit log: check it has not been altered.")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check every entry's hash and link; name the first broken entry (exit 1) if any."""
    from gateway.access.audit_queries import verify_chain
    from gateway.store.engine import session_factory

    with session_factory()() as session:
        report = verify_chain(session)
    if report.intact:
        typer.echo(f"audit log intact: {report.entries} entries, every hash and link holds")
        return
    typer.echo(
        f"audit log BROKEN: entry {report.first_broken_seq} does not match its hash or the "
        f"entry before it ({report.entries} entries)",
        err=True,
    )
    raise typer.Exit(1)
