"""``ehe-gateway settings``: the settings in force, or their documentation."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.app import app

# Values that may hold a password (URLs, the rate-limit store) are shown as "(set)" only.
SECRET_WORDS = ("url", "storage", "secret", "password", "token")


@app.command("settings")
def show_settings(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print docs/configuration.md (every setting)")
    ] = False,
) -> None:
    """Every EHE_* setting and its value in force (URLs hidden), or --markdown their docs."""
    from gateway.settings import PREFIX, settings

    if markdown:
        from gateway.settings_doc import markdown as configuration

        typer.echo(configuration(), nl=False)
        return
    for name, value in settings().model_dump().items():
        hidden = value is not None and any(word in name for word in SECRET_WORDS)
        shown = "(set)" if hidden else "(default)" if value is None else value
        typer.echo(f"{PREFIX}{name.upper():28} {shown}")
