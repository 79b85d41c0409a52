"""``ehe-gateway notify``: alerts to the team inboxes the agreements name (``gateway.notify``).

``run`` does what the DAG ``notify__teams`` does (find events, write each notification once,
deliver what is due); ``list`` shows an inbox's notifications and their deliveries (ids and
events only); ``retry`` makes deliveries that failed every attempt due again."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.app import command_group

notify_app = command_group("notify", "Alerts about EHE children to the team inboxes.")


@notify_app.command("run")
def notify_run() -> None:
    """Find today's events, alert each named inbox once, deliver what is due (and retry)."""
    from gateway.notify.run import notify_teams

    done = notify_teams()
    typer.echo(
        f"{done.events} events; {done.new} new notifications for {done.inboxes} inboxes; "
        f"{done.sent} deliveries sent, {done.failed} failed (kept, tried again later)"
    )


@notify_app.command("list")
def notify_list(
    team: Annotated[
        str | None, typer.Option(help="One inbox's team (default: every inbox)")
    ] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Only those not delivered")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """The newest notifications: id, inbox, child id, event, date, delivery status."""
    from gateway import clock
    from gateway.access.agreements import load_agreements, team_inboxes
    from gateway.notify.run import inbox_items
    from gateway.store.engine import session_factory

    teams = [b.team for b in team_inboxes(load_agreements(), clock.today())]
    chosen = [team] if team else teams
    with session_factory()() as session:
        items = inbox_items(session, chosen, limit=limit)
    shown = [i for i in items if not failed or i.status != "sent"]
    if not shown:
        typer.echo("no notifications")
    for i in shown:
        channels = ", ".join(f"{c}: {s}" for c, s in sorted(i.channels.items()))
        typer.echo(
            f"{i.id:>6} {i.inbox:16} {i.child_id:14} {i.event_kind:22} {i.event_on} {channels}"
        )


@notify_app.command("retry")
def notify_retry() -> None:
    """Make every delivery that failed all its attempts due again (then run `notify run`)."""
    from gateway.notify.delivery import retry_failed
    from gateway.store.engine import session_factory

    with session_factory().begin() as session:
        count = retry_failed(session)
    typer.echo(f"{count} deliveries due again")
