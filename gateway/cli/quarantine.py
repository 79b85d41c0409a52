"""``ehe-gateway quarantine ...``: records held back: list, show, release after a fix, reject."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from gateway.cli.app import command_group

quarantine_app = command_group(
    "quarantine", "Records held back: list, show, release after a fix, reject."
)
Reviewer = Annotated[str, typer.Option("--by", help="Who is acting (goes in the audit log)")]
Organisation = Annotated[str, typer.Option(help="The reviewer's organisation")]


@quarantine_app.command("list")
def quarantine_list(
    source: Annotated[str | None, typer.Option(help="Only this source")] = None,
    status: Annotated[
        str, typer.Option(help="quarantined, rejected, released or all")
    ] = "quarantined",
) -> None:
    """Held records with the check each failed first (no values: see `show`)."""
    from gateway.quarantine import list_held

    items = list_held(source=source, status=None if status == "all" else status)
    for item in items:
        typer.echo(
            f"{item.id:>6} {item.source:28} {item.status:12} {item.item_key:32} {item.first_reason}"
        )
    typer.echo(f"{len(items)} held record(s)")


@quarantine_app.command("show")
def quarantine_show(
    item_id: int,
    by: Reviewer,
    role: Annotated[
        str, typer.Option(help="The viewer's role; only data_engineer and ig_officer see values")
    ],
    organisation: Organisation = "data engineering",
    content: Annotated[bool, typer.Option("--content", help="Also print the kept record")] = False,
) -> None:
    """Every reason a record was held; the failing values only for roles allowed to see them.

    Every use is written to the audit log, whether the values were shown or withheld.
    """
    from gateway.access.audit import Actor
    from gateway.quarantine import show_held

    view = show_held(item_id, Actor(by, organisation, role))
    item = view.item
    typer.echo(f"held record {item.id}: {item.source}, batch {item.batch_id}, {item.item_key}")
    typer.echo(f"stage {item.stage}, status {item.status}")
    for reason in item.reasons:
        typer.echo("  - " + json.dumps(reason, ensure_ascii=False))
    if not view.values_shown:
        typer.echo(f"(failing values withheld: the role {role!r} may not see them)")
    elif content:
        typer.echo(view.payload)


@quarantine_app.command("release")
def quarantine_release(
    batch: Annotated[str, typer.Option(help="The batch to reprocess from the landing area")],
    by: Reviewer,
    organisation: Organisation = "data engineering",
) -> None:
    """Reprocess a batch after a fix in the source's mapping or the suite; load what now passes."""
    from gateway.access.audit import Actor
    from gateway.quarantine import REVIEWER_ROLE, release_batch

    result = release_batch(batch, Actor(by, organisation, REVIEWER_ROLE))
    typer.echo(
        f"{result.batch}: received {result.received}, loaded {result.loaded}, "
        f"quarantined {result.quarantined}, rejected {result.rejected}"
    )


@quarantine_app.command("reject")
def quarantine_reject(
    item_id: int,
    reason: Annotated[str, typer.Option(help="Why it will not be loaded")],
    by: Reviewer,
    organisation: Organisation = "data engineering",
) -> None:
    """Decide not to load a quarantined record; the reason is kept and audited."""
    from gateway.access.audit import Actor
    from gateway.quarantine import REVIEWER_ROLE, reject_held

    item = reject_held(item_id, reason, Actor(by, organisation, REVIEWER_ROLE))
    typer.echo(f"held record {item.id} rejected")
