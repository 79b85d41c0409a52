"""``ehe-gateway``: the gateway's command line (runs every stage without Airflow, too)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from gateway.logs import configure_logging

app = typer.Typer(
    help="EHE gateway: join what agencies know about children in elective home education.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="The index database.", no_args_is_help=True)
app.add_typer(db_app, name="db")
linkage_app = typer.Typer(
    help="Identity resolution: train the model, read the review queue.", no_args_is_help=True
)
app.add_typer(linkage_app, name="linkage")
quarantine_app = typer.Typer(
    help="Records held back: list, show, release after a fix, reject.", no_args_is_help=True
)
app.add_typer(quarantine_app, name="quarantine")
Reviewer = Annotated[str, typer.Option("--by", help="Who is acting (goes in the audit log)")]
Organisation = Annotated[str, typer.Option(help="The reviewer's organisation")]


@app.callback()
def main(log_level: Annotated[str, typer.Option(help="DEBUG, INFO or WARNING")] = "INFO") -> None:
    configure_logging(log_level)


@app.command()
def synth(
    children: Annotated[int, typer.Option(help="How many children in the population")] = 1000,
    seed: Annotated[int, typer.Option(help="Same seed, same files")] = 1,
    out: Annotated[Path, typer.Option(help="Folder to write each agency's files into")] = Path(
        "data/inbox"
    ),
) -> None:
    """Write what each agency would send about a synthetic population, plus the ground truth."""
    from gateway.synth import generate

    result = generate(children, seed, out)
    typer.echo(f"{result.children} synthetic children written to {out}")
    for source, count in result.records.items():
        typer.echo(f"  {source:28} {count:>7} records")
    typer.echo(f"  ground truth: {result.ground_truth}")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create or upgrade the index schema (Alembic migrations) at EHE_INDEX_URL."""
    from gateway.store.migrate import upgrade

    upgrade(revision=revision)
    typer.echo("index schema is up to date")


@app.command()
def sources() -> None:
    """List the sources the gateway can ingest."""
    from connectors.registry import CONNECTORS

    for name in sorted(CONNECTORS):
        typer.echo(f"{name:28} {CONNECTORS[name].description}")


@app.command()
def ingest(
    source: str,
    path: Annotated[
        str | None, typer.Option(help="A file or folder to read (file sources)")
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="A database or API URL (SQL and FHIR sources)")
    ] = None,
) -> None:
    """Run one source through landing, mapping, validation and loading, and print the accounting."""
    from gateway.pipeline import ingest as run_ingest

    results = run_ingest(source, path=path, url=url)
    if not results:
        typer.echo(f"{source}: nothing new")
    for a in results:
        typer.echo(
            f"{a.batch}: received {a.received}, loaded {a.loaded}, "
            f"quarantined {a.quarantined}, rejected {a.rejected}"
        )


@app.command()
def link() -> None:
    """Link every current source record to a stable child id."""
    from gateway.pipeline import link_children

    summary = link_children()
    typer.echo(
        f"{summary.records} records in {summary.children} children "
        f"({summary.new_children} new, {summary.merged_children} merged)"
    )


@app.command()
def accounting(as_json: Annotated[bool, typer.Option("--json", help="JSON list")] = False) -> None:
    """Per source and batch: received, loaded, quarantined, rejected."""
    from gateway.pipeline import accounting_rows

    rows = [a.as_dict() for a in accounting_rows()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        typer.echo(" ".join(f"{k}={v}" for k, v in row.items()))


@app.command()
def summary() -> None:
    """What came in from each source, what became of it, and who knows each child."""
    from gateway.reports.run_summary import build_summary, render_text
    from gateway.store.engine import session_factory

    with session_factory()() as session:
        result = build_summary(session)
    typer.echo(render_text(result))
    if not all(s.balanced for s in result.sources):
        raise typer.Exit(1)


@app.command("run-dags")
def run_dags(
    dag: Annotated[list[str] | None, typer.Option(help="A DAG id; repeat for several")] = None,
    all_dags: Annotated[bool, typer.Option("--all", help="Every ingest DAG, then linkage")] = False,
) -> None:
    """Run DAGs end to end in one Airflow process (dag.test(), SQLite metadata, no servers)."""
    from gateway.airflow_runner import ALL_DAGS, log_file, migrate_metadata
    from gateway.airflow_runner import run_dags as run_in_airflow
    from gateway.progress import track

    chosen = list(ALL_DAGS) if all_dags else list(dag or [])
    if not chosen:
        raise typer.BadParameter("name a --dag or give --all")
    typer.echo(f"Running {len(chosen)} DAG(s); Airflow's log: {log_file()}")
    migrate_metadata()
    failed = []
    for result in track(run_in_airflow(chosen), "Running DAGs", total=len(chosen)):
        typer.echo(f"{result.dag_id:40} {result.state:>12} {result.seconds:>7.1f}s")
        if not result.ok:
            failed.append(result.dag_id)
    if failed:
        typer.echo(f"did not succeed: {', '.join(failed)}; see {log_file()}", err=True)
        raise typer.Exit(1)


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
    content: Annotated[bool, typer.Option("--content", help="Also print the kept record")] = False,
) -> None:
    """Every reason a record was held, with the failing values (personal data: reviewers only)."""
    from gateway.quarantine import show_held

    item, payload = show_held(item_id)
    typer.echo(f"held record {item.id}: {item.source}, batch {item.batch_id}, {item.item_key}")
    typer.echo(f"stage {item.stage}, status {item.status}")
    for reason in item.reasons:
        typer.echo("  - " + json.dumps(reason, ensure_ascii=False))
    if content:
        typer.echo(payload)


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


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the lookup API (and its OpenAPI description at /api/v1/docs)."""
    import uvicorn

    from gateway.api.app import create_app

    uvicorn.run(create_app(), host=host, port=port)


if __name__ == "__main__":
    sys.exit(app())
