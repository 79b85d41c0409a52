"""The root ``ehe-gateway`` Typer app; each module of this package adds its commands to it.

A command that fails prints one line and exits with a documented code (``gateway.cli.errors``);
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from gateway.cli.errors import EXIT_CODES_HELP, describe_failure
from gateway.logs import configure_logging


class GatewayGroup(TyperGroup):
    """The root command: turns an exception of any command into one line and an exit code."""

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click Context
        try:
            return super().invoke(ctx)
        except (TyperException, typer.Exit, typer.Abort):  # usage errors and chosen exits
            raise
        except BrokenPipeError:
            # The reader stopped reading (`| head`): not a failure of the command. Say nothing
            # and exit as a Unix tool killed by SIGPIPE does (128 + 13).
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(141) from None
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            code, line = describe_failure(exc)
            typer.echo(f"error: {line}", err=True)
            raise typer.Exit(int(code)) from None


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


app = typer.Typer(
    cls=GatewayGroup,
    help="EHE gateway: join what agencies know about children in elective home education.\n\n"
    + EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def command_group(name: str, help_text: str) -> typer.Typer:
    """A sub-command group (``ehe-gateway NAME ...``) added to the root app."""
    group = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(group, name=name)
    return group


@app.callback()
def main(
    log_level: Annotated[
        LogLevel, typer.Option(case_sensitive=False, help="The gateway's log level")
    ] = LogLevel.INFO,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of a failure, not one line")
    ] = False,
) -> None:
    configure_logging(log_level)
