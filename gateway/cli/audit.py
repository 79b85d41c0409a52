"""``ehe-gateway audit ...``: check the audit log is whole; sign checkpoints of it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.app import command_group

audit_app = command_group("audit", "The audit log: check it has not been altered.")


@audit_app.command("verify")
def audit_verify(
    checkpoints: Annotated[
        Path | None,
        typer.Option(
            "--checkpoints",
            help="Also check against this file of signed checkpoints (EHE_AUDIT_CHECKPOINTS); "
            "the public key comes from EHE_AUDIT_SIGNING_KEY",
        ),
    ] = None,
) -> None:
    """Check every entry's hash and link, each chain's end against its head and, with
    --checkpoints, against the signed checkpoints: name each truncation, deletion, rewrite
    and reordering with its first sequence number (exit 1) if any."""
    from gateway.access.audit_integrity import signing_key
    from gateway.access.audit_queries import verify_chain
    from gateway.store.engine import session_factory

    public = signing_key().public_key() if checkpoints is not None else None
    with session_factory()() as session:
        report = verify_chain(session, checkpoints, public)
    against = f", {report.checkpoints} signed checkpoints" if checkpoints is not None else ""
    if report.intact:
        typer.echo(
            f"audit log intact: {report.entries} entries, every hash and link holds, "
            f"every chain ends at its head{against}"
        )
        return
    for problem in report.problems:
        typer.echo(
            f"audit log BROKEN: {problem.kind} on chain {problem.chain} at entry "
            f"{problem.seq}: {problem.detail}",
            err=True,
        )
    raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="The checkpoint file (default EHE_AUDIT_CHECKPOINTS)"),
    ] = None,
) -> None:
    """Verify the log (against the checkpoints already in the file too), then sign every
    chain's end (last entry, its hash, how many) with EHE_AUDIT_SIGNING_KEY and append it to the
    checkpoint file, which should live on append-only storage. A broken log is named (exit 1)
    and nothing is signed: what the hourly DAG audit__checkpoint does."""
    from gateway.access.audit_schedule import verify_and_checkpoint

    made = verify_and_checkpoint(out=out)
    typer.echo(
        f"checkpoint of {made.chains} chains, {made.entries} entries "
        f"(verified against {made.checked_against} earlier checkpoints)"
    )


@audit_app.command("keygen")
def audit_keygen(
    out: Annotated[Path, typer.Option("--out", help="Where to write the new private key (PEM)")],
) -> None:
    """Make the Ed25519 key that signs checkpoints (never stored in the database)."""
    from gateway.access.audit_integrity import write_key

    try:
        write_key(out)
    except FileExistsError:
        typer.echo(f"{out} exists: not overwritten", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"signing key written to {out} (owner-only); set EHE_AUDIT_SIGNING_KEY to it")
