"""``ehe-gateway linkage ...``: train the model, read the review queue."""

from __future__ import annotations

from pathlib import Path
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
            + (f" CONFLICT: {review.conflict}" if review.conflict else "")
        )
    typer.echo(f"{len(reviews)} open possible match(es)")


@linkage_app.command("evaluate")
def linkage_evaluate(
    records: Annotated[Path, typer.Option(help="Labelled canonical person records (CSV)")],
    label_column: Annotated[str, typer.Option(help="The column holding each record's true id")],
    clusters_out: Annotated[Path, typer.Option(help="Where to write record_id,child_id")],
) -> None:
    """Run the production linkage (training included) on a labelled file and measure it."""
    from gateway.errors import FatalConfigError
    from gateway.linkage.evaluate import evaluate_file

    try:
        quality = evaluate_file(records, label_column, clusters_out)
    except (FatalConfigError, FileNotFoundError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    for line in quality.lines():
        typer.echo(line)
    typer.echo(f"clusters written to {clusters_out}")
