"""``ehe-gateway linkage ...``: train the model, read the review queue."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.app import command_group

linkage_app = command_group(
    "linkage", "Identity resolution: train the model, read the review queue."
)


@linkage_app.command("train")
def linkage_train(
    if_missing: Annotated[bool, typer.Option(help="Only if no model has been trained yet")] = False,
) -> None:
    """Train the probabilistic model on the index's current records (an explicit step)."""
    from gateway.linkage.probabilistic import current_model
    from gateway.linkage.publish import train_on_index

    existing = current_model()
    if if_missing and existing is not None:
        typer.echo(f"keeping {existing.name}")
        return
    path = train_on_index()
    typer.echo(f"trained {path.name}; `ehe-gateway link` (or the link__children DAG) now uses it")


@linkage_app.command("reviews")
def linkage_reviews(limit: int = 20) -> None:
    """Open possible matches, strongest first, with each field's match weight (no values)."""
    from gateway.linkage.publish import open_reviews

    reviews = open_reviews()
    for review in reviews[:limit]:
        weights = " ".join(f"{k}={v:+.1f}" for k, v in review.match_weights.items())
        typer.echo(
            f"{review.id:>6} p={review.probability:.3f} {review.left_source}/"
            f"{review.left_record_id} ~ {review.right_source}/{review.right_record_id} {weights}"
        )
    typer.echo(f"{len(reviews)} open possible match(es)")
