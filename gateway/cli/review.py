"""``ehe-gateway review ...``: possible matches a person decides: list, show, accept, reject."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from gateway.cli.app import command_group

review_app = command_group(
    "review", "Possible matches: list, show (with a waterfall chart), accept, reject, reopen."
)
Reviewer = Annotated[str, typer.Option("--by", help="Who is deciding (goes in the audit log)")]
Organisation = Annotated[str, typer.Option(help="The reviewer's organisation")]
Reason = Annotated[str, typer.Option(help="Why (kept with the decision)")]
ROLE = "data_engineer"
T = TypeVar("T")


class ReviewStatus(StrEnum):
    """What `review list --status` accepts."""

    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ALL = "all"


@review_app.command("list")
def review_list(
    status: Annotated[ReviewStatus, typer.Option(help="Reviews in this state")] = ReviewStatus.OPEN,
    limit: int = 50,
) -> None:
    """Possible matches, children known to social care or EHE first (no values: see `show`)."""
    from gateway.linkage.review import list_reviews

    items = list_reviews(status=None if status == "all" else status)
    for item in items[:limit]:
        flags = ("SC " if item.known_to_social_care else "   ") + (
            "EHE" if item.home_education else "   "
        )
        likely = "twin-shaped" if item.assessment.twin_shaped else f"p={item.probability:.4f}"
        conflicts = "; ".join(c.says for c in item.assessment.conflicts)
        typer.echo(
            f"{item.id:>6} {flags} {likely:11} {item.status:9} "
            f"{item.left[0]}/{item.left[1]} ~ {item.right[0]}/{item.right[1]}"
            + (f"  [{conflicts}]" if conflicts else "")
        )
    typer.echo(f"{len(items)} review(s)")


@review_app.command("show")
def review_show(
    review_id: int,
    by: Reviewer,
    organisation: Organisation = "data engineering",
    chart: Annotated[Path | None, typer.Option(help="Write a waterfall chart (.svg/.png)")] = None,
) -> None:
    """Both records field by field with each field's match weight (personal data: audited)."""
    from gateway.access.audit import Actor
    from gateway.linkage.review import review_detail

    detail = _or_exit(lambda: review_detail(review_id, Actor(by, organisation, ROLE)))
    item = detail.item
    typer.echo(f"review {item.id} ({item.status}), model {detail.model}")
    typer.echo(f"  left  {item.left[0]}/{item.left[1]}")
    typer.echo(f"  right {item.right[0]}/{item.right[1]}")
    typer.echo(f"{'field':12} {'left':28} {'right':28} {'comparison':12} weight")
    for f in detail.fields:
        weight = "" if f.weight is None else f"{f.weight:+.2f}"
        typer.echo(
            f"{f.field:12} {f.left or '-':28} {f.right or '-':28} {f.comparison:12} {weight}"
        )
    for conflict in item.assessment.conflicts:
        typer.echo(f"WARNING: {conflict.says}")
    if item.assessment.needs_second_reviewer:
        typer.echo("accepting this pair takes a reason and a second reviewer (four eyes)")
    if item.awaiting_second_reviewer:
        typer.echo(f"accepted by {item.first_accepted_by}, awaiting a second reviewer")
    likely = (  # a twin-shaped pair never shows a bare probability
        "but it looks like twins"
        if item.assessment.twin_shaped
        else f"=> probability {item.probability:.4f}"
    )
    typer.echo(f"prior {detail.prior:+.2f}, total {detail.total_weight:+.2f} {likely}")
    if chart is not None:
        from gateway.linkage.waterfall import render_waterfall

        typer.echo(f"waterfall chart written to {render_waterfall(detail, chart)}")


@review_app.command("accept")
def review_accept(
    review_id: int, by: Reviewer, reason: Reason, organisation: Organisation = "data engineering"
) -> None:
    """The two records are one child: link them (MANUAL; the matcher never undoes it)."""
    from gateway.access.audit import Actor
    from gateway.linkage.review import accept

    child_id = _or_exit(lambda: accept(review_id, Actor(by, organisation, ROLE), reason))
    if child_id is None:
        typer.echo(f"review {review_id} accepted by {by}, awaiting a second reviewer (four eyes)")
        return
    typer.echo(f"review {review_id} accepted: both records now belong to {child_id}")


@review_app.command("reject")
def review_reject(
    review_id: int, by: Reviewer, reason: Reason, organisation: Organisation = "data engineering"
) -> None:
    """The two records are two children: linkage never joins them (MANUAL)."""
    from gateway.access.audit import Actor
    from gateway.linkage.review import reject

    _or_exit(lambda: reject(review_id, Actor(by, organisation, ROLE), reason))
    typer.echo(f"review {review_id} rejected: the records stay apart")


@review_app.command("reopen")
def review_reopen(
    review_id: int, by: Reviewer, reason: Reason, organisation: Organisation = "data engineering"
) -> None:
    """Undo a decision (an accepted pair is unlinked again); the review is open again."""
    from gateway.access.audit import Actor
    from gateway.linkage.review import reopen

    _or_exit(lambda: reopen(review_id, Actor(by, organisation, ROLE), reason))
    typer.echo(f"review {review_id} reopened")


def _or_exit(action: Callable[[], T]) -> T:
    from gateway.linkage.review import ReviewError

    try:
        return action()
    except ReviewError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
