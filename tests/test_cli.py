"""The command line, as a data engineer uses it: ingest by hand, then read the accounting."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gateway.cli import app
from gateway.sources import api_source_names, source_names

runner = CliRunner()


def test_sources_lists_every_source() -> None:
    result = runner.invoke(app, ["sources"])
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.output.splitlines() if line.strip()]
    assert listed == sorted(source_names() + api_source_names())


def test_ingest_then_accounting_json(index_url: str, inbox: Path) -> None:
    register = inbox / "education" / "ehe_register"
    result = runner.invoke(app, ["ingest", "education__ehe_register", "--path", str(register)])
    assert result.exit_code == 0, result.output
    assert "received" in result.output
    again = runner.invoke(app, ["ingest", "education__ehe_register", "--path", str(register)])
    assert "nothing new" in again.output
    listed = runner.invoke(app, ["accounting", "--json"])
    rows = json.loads(listed.output)
    assert len(rows) == 1
    assert set(rows[0]) == {"source", "batch", "received", "loaded", "quarantined", "rejected"}
    row = rows[0]
    assert row["received"] == row["loaded"] + row["quarantined"] + row["rejected"]
    held = runner.invoke(app, ["quarantine", "list", "--status", "all"])
    assert held.exit_code == 0
    assert f"{row['quarantined'] + row['rejected']} held record(s)" in held.output
    summary = runner.invoke(app, ["summary"])
    assert summary.exit_code == 0
    assert "education__ehe_register" in summary.output
    assert "Children in the index" in summary.output


def test_unknown_source_says_which_exist(index_url: str) -> None:
    result = runner.invoke(app, ["ingest", "education__nope", "--path", "x"])
    assert result.exit_code != 0
    assert "known sources" in str(result.exception)


def test_makefile_demo_calls_real_commands() -> None:
    """`make demo` is the README's first command: every ehe-gateway call in it must exist."""
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    demo = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    calls = [
        line.split("ehe-gateway", 1)[1].split()
        for line in demo.splitlines()
        if "ehe-gateway" in line
    ]
    assert calls, "make demo runs the gateway"
    for words in calls:
        command = [w for w in words if not w.startswith("$")]
        head = command[:2] if command[0] in ("db", "linkage", "quarantine") else command[:1]
        result = runner.invoke(app, [*head, "--help"])
        assert result.exit_code == 0, f"make demo calls unknown command: {' '.join(head)}"
