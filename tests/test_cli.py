"""The command line, as a data engineer uses it: ingest by hand, then read the accounting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from gateway.cli import app
from gateway.cli.errors import ExitCode
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
    assert set(rows[0]) == {
        "source",
        "batch",
        "status",
        "received",
        "loaded",
        "quarantined",
        "rejected",
        "gated",
        "pending",
        "not_read",
        "not_read_kinds",
        "gate_reasons",
    }
    row = rows[0]
    assert (row["status"], row["gated"], row["pending"]) == ("loaded", 0, 0)
    assert row["received"] == row["loaded"] + row["quarantined"] + row["rejected"]
    held = runner.invoke(app, ["quarantine", "list", "--status", "all"])
    assert held.exit_code == 0
    assert f"{row['quarantined'] + row['rejected']} held record(s)" in held.output
    summary = runner.invoke(app, ["summary"])
    assert summary.exit_code == 0
    assert "education__ehe_register" in summary.output
    assert "Children in the index" in summary.output


def _one_line_error(result: Result) -> str:
    """The failure as a user sees it: one line on stderr, no traceback."""
    assert isinstance(result.exception, SystemExit), result.exception
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ")
    return line


def test_unknown_source_says_which_exist(index_url: str) -> None:
    result = runner.invoke(app, ["ingest", "education__nope", "--path", "x"])
    assert result.exit_code == ExitCode.CONFIG == 4
    assert "known sources" in _one_line_error(result)


def test_unreadable_path_is_one_line(index_url: str, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["ingest", "education__ehe_register", "--path", str(tmp_path / "nowhere")]
    )
    assert result.exit_code == ExitCode.UNREADABLE == 5
    assert "no such file or folder" in _one_line_error(result)


def test_index_never_upgraded_says_what_to_run(
    tmp_path: Path, data_dir: Path, inbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EHE_INDEX_URL", f"sqlite:///{tmp_path / 'empty.sqlite'}")
    register = inbox / "education" / "ehe_register"
    result = runner.invoke(app, ["ingest", "education__ehe_register", "--path", str(register)])
    assert result.exit_code == ExitCode.INDEX_NOT_UPGRADED == 6
    assert "ehe-gateway db upgrade" in _one_line_error(result)
    listed = runner.invoke(app, ["accounting"])
    assert listed.exit_code == 6
    debug = runner.invoke(app, ["--debug", "accounting"])
    assert debug.exit_code == 1 and not isinstance(debug.exception, SystemExit)


def test_installed_command_prints_one_line_and_the_code(tmp_path: Path) -> None:
    """The real ``ehe-gateway`` process: one line on stderr, the documented code, no traceback;
    the codes are listed in its help."""
    cli = str(Path(sys.executable).with_name("ehe-gateway"))
    env = {**os.environ, "EHE_INDEX_URL": f"sqlite:///{tmp_path / 'never.sqlite'}"}
    run = subprocess.run(
        [cli, "accounting"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 6
    assert run.stderr.strip().splitlines()[-1].startswith("error: the index has no schema")
    assert "Traceback" not in run.stderr
    shown = subprocess.run(
        [cli, "--help"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    help_text = " ".join(shown.split())
    assert "index not upgraded" in help_text and "held whole by a gate" in help_text


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


def test_db_upgrade_says_whether_it_created_upgraded_or_did_nothing(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EHE_INDEX_URL", f"sqlite:///{tmp_path / 'new.sqlite'}")
    status = runner.invoke(app, ["db", "status"])
    assert status.exit_code == ExitCode.INDEX_NOT_UPGRADED
    assert "has no schema" in status.output and "ehe-gateway db upgrade" in status.output
    first = runner.invoke(app, ["db", "upgrade"])
    assert first.exit_code == 0 and "index schema created at revision" in first.output
    again = runner.invoke(app, ["db", "upgrade"])
    assert again.exit_code == 0 and "nothing to do" in again.output
    assert "up to date" in runner.invoke(app, ["db", "status"]).output


@pytest.mark.parametrize(
    "args",
    [
        ["quarantine", "list", "--status", "bogus"],
        ["review", "list", "--status", "bogus"],
        ["quarantine", "show", "1", "--by", "someone", "--role", "boss"],
        ["--log-level", "loud", "sources"],
    ],
)
def test_enumerated_options_refuse_other_values_and_list_the_allowed(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.USAGE
    assert "is not one of" in result.output


def test_freshness_names_each_source_fresh_or_stale(index_url: str, inbox: Path) -> None:
    register = inbox / "education" / "ehe_register"
    runner.invoke(app, ["ingest", "education__ehe_register", "--path", str(register)])
    result = runner.invoke(app, ["freshness"])
    assert result.exit_code == 0, result.output
    states = {line.split()[0]: line.split()[1] for line in result.output.splitlines()}
    assert states["education__ehe_register"] == "fresh"
    assert states["education__ctf"] == "STALE" and set(states) == set(source_names())
