"""The root ``ehe-gateway`` Typer app; each module of this package adds its commands to it."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.logs import configure_logging

app = typer.Typer(
    help="EHE gateway: join what agencies know about children in elective home education.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def command_group(name: str, help_text: str) -> typer.Typer:
    """A sub-command group (``ehe-gateway NAME ...``) added to the root app."""
    group = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(group, name=name)
    return group


@app.callback()
def main(log_level: Annotated[str, typer.Option(help="DEBUG, INFO or WARNING")] = "INFO") -> None:
    configure_logging(log_level)
