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
    records: Annotated[Path, typer.Option(help="Labelled person records (CSV or Parquet)")],
    label_column: Annotated[str, typer.Option(help="The column holding each record's true id")],
    clusters_out: Annotated[Path, typer.Option(help="Where to write record_id,child_id")],
    columns: Annotated[
        str | None,
        typer.Option(
            help="Our columns from the file's, e.g. given_name=first_name,birth_date=dob "
            "(a published set's own names; ours not named are left empty)"
        ),
    ] = None,
    beside_generic: Annotated[
        bool, typer.Option(help="Also run Splink's generic model on the same columns")
    ] = True,
) -> None:
    """Run the production linkage (training included) on a labelled file and measure it,
    with our blocking's pairs completeness, beside Splink's generic model."""
    from gateway.errors import FatalConfigError
    from gateway.linkage.evaluate import blocking_recall, evaluate_beside_generic, evaluate_file

    try:
        mapping = _column_mapping(columns) if columns else None
        if beside_generic:
            lines = evaluate_beside_generic(records, label_column, clusters_out, mapping).lines()
        else:
            lines = evaluate_file(records, label_column, clusters_out, mapping).lines()
            from gateway.linkage.evaluate import read_labelled

            data = read_labelled(records, label_column, mapping)
            lines += blocking_recall(data.people, data.labels).lines()
    except (FatalConfigError, FileNotFoundError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    for line in lines:
        typer.echo(line)
    typer.echo(f"clusters written to {clusters_out}")


def _column_mapping(text: str) -> dict[str, str]:
    from gateway.errors import FatalConfigError
    from gateway.linkage.evaluate import COLUMNS

    mapping = {}
    for part in text.split(","):
        ours, _, theirs = part.partition("=")
        if ours.strip() not in COLUMNS or not theirs.strip():
            raise FatalConfigError(f"--columns: {part!r} is not one of ours=the file's column")
        mapping[ours.strip()] = theirs.strip()
    return mapping
