"""``ehe-gateway serve``: the lookup API."""

from __future__ import annotations

from gateway.cli.app import app


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the lookup API (and its OpenAPI description at /api/v1/docs)."""
    import uvicorn

    from gateway.api.app import create_app

    uvicorn.run(create_app(), host=host, port=port)
