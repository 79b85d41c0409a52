"""``ehe-gateway quarantine ...``: records held back: list, show, release after a fix, reject."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

from gateway.access.roles import ROLES
from gateway.cli.app import command_group

quarantine_app = command_group(
    "quarantine", "Records held back: list, show, release after a fix, reject."
)


class HeldStatus(StrEnum):
    """What `quarantine list --status` accepts."""

    QUARANTINED = "quarantined"
    REJECTED = "rejected"
    RELEASED = "released"
    GATED = "gated"
    SUPERSEDED = "superseded"
    ALL = "all"


# The roles of the access model, one choice each (`quarantine show --role`).
Role = StrEnum("Role", {code: code for code in ROLES})  # type: ignore[misc]
Reviewer = Annotated[str, typer.Option("--by", help="Who is acting (goes in the audit log)")]
Organisation = Annotated[str, typer.Option(help="The reviewer's organisation")]


@quarantine_app.command("list")
def quarantine_list(
    source: Annotated[str | None, typer.Option(help="Only this source")] = None,
    status: Annotated[
        HeldStatus,
        typer.Option(
            help="Held records in this state; gated and superseded list batches held whole"
        ),
    ] = HeldStatus.QUARANTINED,
) -> None:
    """Held records with the check each failed first (no values: see `show`), and batches held
    whole by a gate (listed with `quarantined`, `gated`, `superseded` and `all`)."""
    from gateway.quarantine import list_held, list_held_batches
    from gateway.store.batch_status import GATED, SUPERSEDED

    if status not in (GATED, SUPERSEDED):
        items = list_held(source=source, status=None if status == "all" else status)
        for item in items:
            typer.echo(
                f"{item.id:>6} {item.source:28} {item.status:12} {item.item_key:32} "
                f"{item.first_reason}"
            )
        typer.echo(f"{len(items)} held record(s)")
    if status in ("quarantined", GATED, SUPERSEDED, "all"):
        wanted = None if status == "all" else SUPERSEDED if status == SUPERSEDED else GATED
        batches = list_held_batches(source=source, status=wanted)
        for batch in batches:
            typer.echo(
                f"batch {batch.batch} {batch.source} {batch.status}: {batch.gated} record(s) "
                f"held whole: {'; '.join(batch.gate_reasons)}"
            )
        records = sum(b.gated for b in batches)
        typer.echo(f"{len(batches)} batch(es) held whole by a gate ({records} records)")


@quarantine_app.command("show")
def quarantine_show(
    item_id: int,
    by: Reviewer,
    role: Annotated[
        Role, typer.Option(help="The viewer's role; only data_engineer and ig_officer see values")
    ],
    organisation: Organisation = "data engineering",
    content: Annotated[bool, typer.Option("--content", help="Also print the kept record")] = False,
) -> None:
    """Every reason a record was held; the failing values only for roles allowed to see them.

    Every use is written to the audit log, whether the values were shown or withheld.
    """
    from gateway.access.audit import Actor
    from gateway.quarantine import show_held

    view = show_held(item_id, Actor(by, organisation, role.value))
    item = view.item
    typer.echo(f"held record {item.id}: {item.source}, batch {item.batch_id}, {item.item_key}")
    typer.echo(f"stage {item.stage}, status {item.status}")
    for reason in item.reasons:
        typer.echo("  - " + json.dumps(reason, ensure_ascii=False))
    if not view.values_shown:
        typer.echo(f"(failing values withheld: the role {role.value!r} may not see them)")
    elif content:
        typer.echo(view.payload)


@quarantine_app.command("release")
def quarantine_release(
    batch: Annotated[str, typer.Option(help="The batch to reprocess from the landing area")],
    by: Reviewer,
    organisation: Organisation = "data engineering",
) -> None:
    """Reprocess a batch after a fix in the source's mapping or the suite; load what now passes.

    Exits 3 when the batch is still held whole by a gate.
    """
    from gateway.access.audit import Actor
    from gateway.cli.pipeline import print_accounting
    from gateway.quarantine import REVIEWER_ROLE, release_batch

    print_accounting([release_batch(batch, Actor(by, organisation, REVIEWER_ROLE))])


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
