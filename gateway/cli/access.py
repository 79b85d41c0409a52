"""``ehe-gateway users`` and ``ehe-gateway token``: the demo's local token issuer."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.app import app


@app.command()
def users() -> None:
    """The demo users the local issuer signs tokens for: name, role, organisation."""
    from gateway.access.roles import ROLES
    from gateway.access.users import load_demo_users

    for user in load_demo_users().values():
        typer.echo(f"{user.name:14} {ROLES[user.role]:20} {user.organisation}")


@app.command()
def token(
    user: Annotated[str, typer.Option("--user", help="A demo user's name (see `users`)")],
    minutes: Annotated[int, typer.Option(min=1, max=24 * 60, help="How long it lasts")] = 60,
    scope: Annotated[
        list[str] | None,
        typer.Option(
            metavar="SCOPE",
            help="An OAuth scope the token grants (repeat for more), such as user/Flag.rs for "
            "the FHIR endpoint; none: a token without a scope claim",
        ),
    ] = None,
) -> None:
    """Print a signed bearer token for one demo user (local issuer only)."""
    from gateway.access.tokens import LocalIssuer, TokenSettings
    from gateway.access.users import load_demo_users

    settings = TokenSettings.from_env()
    if settings.jwks_url:
        raise typer.BadParameter("EHE_OIDC_JWKS_URL is set: tokens come from that issuer")
    if minutes * 60 > settings.max_lifetime_seconds:
        most = settings.max_lifetime_seconds // 60
        raise typer.BadParameter(f"at most {most} minutes (EHE_SESSION_MAX_MINUTES)")
    known = load_demo_users()
    if user not in known:
        raise typer.BadParameter(f"no demo user {user!r}; known: {', '.join(known)}")
    scopes = [s for given in scope or [] for s in given.split()]
    typer.echo(
        LocalIssuer(settings).issue(known[user], lifetime_seconds=minutes * 60, scopes=scopes)
    )
