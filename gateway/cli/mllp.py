"""``ehe-gateway mllp``: the HL7 v2 MLLP listener; ``ehe-gateway mllp-errors``: what it refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.app import app


@app.command()
def mllp(
    *,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0: any free port, printed at start)")] = 2575,
    store: Annotated[
        Path | None, typer.Option(help="Message store folder (default EHE_MLLP_DIR or data/mllp)")
    ] = None,
    fsync: Annotated[
        bool,
        typer.Option(
            help="fsync each commit before the ACK (survives power loss); --no-fsync writes to "
            "the OS before the ACK (survives a kill of the listener, not of the machine)"
        ),
    ] = True,
    seal_every: Annotated[int, typer.Option(help="Messages per sealed batch file")] = 10_000,
    seal_after: Annotated[float, typer.Option(help="Seconds before a batch file is sealed")] = 60,
    idle_timeout: Annotated[
        float | None,
        typer.Option(
            help="Close a connection silent this many seconds (0: never; default "
            "EHE_MLLP_IDLE_TIMEOUT_S or 600)"
        ),
    ] = None,
    max_connections: Annotated[
        int | None,
        typer.Option(
            help="Connections served at once; more are closed on arrival (default "
            "EHE_MLLP_MAX_CONNECTIONS or 32)"
        ),
    ] = None,
) -> None:
    """Receive HL7 v2 ADT messages over MLLP; each is stored before it is ACKed AA.

    Sealed batch files land in STORE/sealed: ingest them with
    `ehe-gateway ingest health__hl7v2_adt --path STORE/sealed`.
    """
    from gateway.mllp import MessageStore, serve_forever
    from gateway.mllp.server import ListenerLimits
    from gateway.mllp.store import default_store_dir

    limits = ListenerLimits.from_env(idle_timeout, max_connections)
    folder = store or default_store_dir()
    message_store = MessageStore(folder, sync=fsync, seal_every=seal_every, seal_after_s=seal_after)

    def ready(bound_host: str, bound_port: int) -> None:
        typer.echo(f"MLLP listener on {bound_host}:{bound_port}, store {folder}")

    counts = serve_forever(message_store, host, port, ready, limits)
    typer.echo(
        "stopped: "
        + ", ".join(f"{name} {count}" for name, count in counts.items())
        + f"; sealed batches in {message_store.sealed_dir}"
    )


@app.command("mllp-errors")
def mllp_errors(
    store: Annotated[Path | None, typer.Option(help="Message store folder")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list")] = False,
) -> None:
    """List what the MLLP listener refused (kept in STORE/errors) with code and reason: AR or
    AE as answered, or `discarded` for a torn frame or stray bytes (MLLP answers nothing)."""
    from gateway.mllp import MessageStore
    from gateway.mllp.store import default_store_dir

    notes = MessageStore(store or default_store_dir()).errors()
    if as_json:
        typer.echo(json.dumps(notes))
        return
    for note in notes:
        typer.echo(f"{note['file']}: {note['code']} {note['reason']}")
    typer.echo(f"{len(notes)} refused message(s)")
