"""``ehe-gateway serve``: the lookup API."""

from __future__ import annotations

import ipaddress
import os

import typer

from gateway.cli.app import app
from gateway.errors import FatalConfigError
from gateway.settings import settings


def default_workers() -> int:
    """``EHE_API_WORKERS``, else one worker process per CPU core this process may run on."""
    given = settings().api_workers
    if given:
        return max(1, given)
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1) or the name localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = typer.Option(
        0, help="API worker processes (0: EHE_API_WORKERS, else one per CPU core)"
    ),
    access_log: bool = typer.Option(
        False, help="Log every request (off: a line per request costs CPU on a busy service)"
    ),
) -> None:
    """Serve the lookup API (and its OpenAPI description at /api/v1/docs).

    Refused (exit 4) in demo mode (EHE_DEMO_MODE) on an address other than loopback.

    uvicorn with uvloop and httptools (compiled), one process per core by default: each
    process runs the whole app, with its own database pools and token cache.
    """
    import uvicorn

    from gateway.access.rate_limit import STORAGE_ENV

    if settings().demo_mode and not is_loopback(host):
        raise FatalConfigError(
            "demo mode (EHE_DEMO_MODE) signs anyone in without a password: serve it on a "
            "loopback address only (--host 127.0.0.1), or unset it and configure "
            "EHE_OIDC_ISSUER and EHE_OIDC_CLIENT_ID"
        )
    count = workers or default_workers()
    if count > 1 and (settings().rate_limit_storage or "memory://").startswith("memory://"):
        typer.echo(
            f"rate limits are counted in each of the {count} worker processes: set "
            f"{STORAGE_ENV}=redis://... for one limit per user, or --workers 1",
            err=True,
        )
    uvicorn.run(
        "gateway.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=count,
        loop="uvloop",
        http="httptools",
        access_log=access_log,
    )
