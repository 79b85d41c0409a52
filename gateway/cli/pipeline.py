"""Commands that run the pipeline by hand: synth, db, sources, ingest, link, accounting, summary,
run-dags."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gateway.cli.app import app, command_group
from gateway.cli.errors import ExitCode

if TYPE_CHECKING:
    from gateway.pipeline import Accounting

db_app = command_group("db", "The index database.")


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
    typer.echo(f"  last real contact of each child: {result.contact_truth}")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create or upgrade the index schema (Alembic migrations) at EHE_INDEX_URL."""
    from gateway.store.migrate import current_revision, upgrade

    before = current_revision()
    upgrade(revision=revision)
    after = current_revision()
    if before == after:
        typer.echo(f"index schema already at revision {after}: nothing to do")
    elif before is None:
        typer.echo(f"index schema created at revision {after}")
    else:
        typer.echo(f"index schema upgraded from revision {before} to {after}")


@db_app.command("status")
def db_status() -> None:
    """The index schema's revision against the newest; exits 6 when it needs `db upgrade`."""
    from gateway.store.migrate import current_revision, head_revision

    current, head = current_revision(), head_revision()
    if current == head:
        typer.echo(f"index schema at revision {current}: up to date")
        return
    state = "has no schema" if current is None else f"is at revision {current}"
    typer.echo(
        f"error: the index {state}, newest is {head}: run `ehe-gateway db upgrade`", err=True
    )
    raise typer.Exit(int(ExitCode.INDEX_NOT_UPGRADED))


@app.command()
def freshness() -> None:
    """Per source: when its last good batch was loaded, and whether it is past its threshold.

    A source past its threshold is what the monitor__freshness DAG alerts `stale_source` about.
    """
    from gateway.monitoring.freshness import freshness as source_freshness
    from gateway.store.engine import session_factory

    with session_factory()() as session:
        rows = source_freshness(session)
    for row in rows:
        last = (
            "never" if row.last_good_at is None else row.last_good_at.isoformat(timespec="seconds")
        )
        state = "STALE" if row.stale else "fresh"
        hours = row.threshold_seconds / 3600
        typer.echo(f"{row.source:30} {state:5}  last good batch {last}  threshold {hours:g} h")


@app.command()
def sources(
    airflow_pools: Annotated[
        Path | None,
        typer.Option(help="Write the Airflow pools (one per source) to this JSON file instead"),
    ] = None,
) -> None:
    """List the sources the gateway can ingest: schedule, delivery, whether the demo runs it."""
    from connectors.registry import CONNECTORS
    from gateway.sources import airflow_pools as pools

    if airflow_pools is not None:
        airflow_pools.write_text(json.dumps(pools(), indent=2) + "\n", encoding="utf-8")
        typer.echo(f"{len(pools())} pools written to {airflow_pools}")
        return
    for name, cls in sorted(CONNECTORS.items()):
        delivery = "snapshot" if cls.full_snapshot else "changes"
        demo = "demo" if cls.in_demo else "-"
        typer.echo(f"{name:30} {cls.schedule:13} {delivery:8} {demo:4}  {cls.description}")


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
    """Run one source through landing, mapping, validation and loading, and print the accounting.

    Exits 3 when a batch was held whole by a gate (the others still load).
    """
    from gateway.pipeline import ingest as run_ingest

    results = run_ingest(source, path=path, url=url)
    if not results:
        typer.echo(f"{source}: nothing new")
    print_accounting(results)


def print_accounting(results: list[Accounting]) -> None:
    """One line per batch; a gated batch's reasons on stderr, and exit code 3 if any."""
    for a in results:
        kinds = ", ".join(f"{kind} {n}" for kind, n in a.not_read_kinds)
        typer.echo(
            f"{a.batch}: received {a.received}, loaded {a.loaded}, "
            f"quarantined {a.quarantined}, rejected {a.rejected}, gated {a.gated}"
            + (f", kept not a child record {a.not_read} ({kinds})" if a.not_read else "")
        )
    gated = [a for a in results if a.gate_reasons]
    for a in gated:
        from gateway.pipeline.loading import gate_message

        typer.echo(f"error: {gate_message(a)}; see `ehe-gateway quarantine list`", err=True)
    if gated:
        raise typer.Exit(int(ExitCode.GATED))


@app.command()
def link(
    full: Annotated[
        bool, typer.Option("--full", help="re-link every record, not only new and changed ones")
    ] = False,
) -> None:
    """Link new and changed source records to stable child ids (every record with --full)."""
    from gateway.pipeline import link_children

    summary = link_children(full=full)
    typer.echo(
        f"{summary.records} records in {summary.children} children "
        f"({summary.new_children} new, {summary.merged_children} merged)"
    )


@app.command()
def accounting(as_json: Annotated[bool, typer.Option("--json", help="JSON list")] = False) -> None:
    """Per source and batch, in any state: received = loaded + quarantined + rejected + gated
    (+ kept, not a child record: another table or resource type, by kind; + pending, for a
    batch not yet loaded)."""
    from gateway.pipeline import accounting_rows

    rows = accounting_rows()
    if as_json:
        typer.echo(json.dumps([a.as_dict() for a in rows], indent=2))
        return
    for a in rows:
        words = ("gate_reasons", "not_read_kinds")
        counts = {k: v for k, v in a.as_dict().items() if k not in words}
        line = " ".join(f"{k}={v}" for k, v in counts.items())
        kinds = "; ".join(f"{kind} {n}" for kind, n in a.not_read_kinds)
        line += f' not_read_kinds="{kinds}"' if kinds else ""
        typer.echo(line + (f" reasons={'; '.join(a.gate_reasons)}" if a.gate_reasons else ""))


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
    """Run DAGs end to end with dag.test() (SQLite metadata, no servers).

    Ingest DAGs run side by side in EHE_DAG_WORKERS Airflow processes (default one per core, at
    most two), each taking the next unclaimed DAG, largest source first; the linkage DAG runs
    after they have all ended. EHE_RUN_DAGS_TIMEOUT_S bounds the whole run.
    """
    from gateway.airflow_runner import ALL_DAGS, migrate_metadata, new_log_dir
    from gateway.airflow_runner import run_dags as run_in_airflow
    from gateway.progress import track

    chosen = list(ALL_DAGS) if all_dags else list(dag or [])
    if not chosen:
        raise typer.BadParameter("name a --dag or give --all")
    migrate_metadata()
    logs = new_log_dir()
    typer.echo(f"Running {len(chosen)} DAG(s); this run's log: {logs}/")
    failed = []
    for result in track(run_in_airflow(chosen, log_dir=logs), "Running DAGs", total=len(chosen)):
        typer.echo(f"{result.dag_id:40} {result.state:>12} {result.seconds:>7.1f}s")
        if not result.ok:
            failed.append(result.dag_id)
    if failed:
        typer.echo(f"did not succeed: {', '.join(failed)}; see {logs}/", err=True)
        raise typer.Exit(1)
