"""No personal data in any exception: the PostgreSQL connection is dropped in the middle of a
load (``pg_terminate_backend`` from a second connection, while the load's INSERT of held records,
whose payloads hold names and birth dates, is waiting), and neither the CLI's output nor the
exception's text holds a name or birth date of the batch."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from gateway.pipeline import ingest

SOURCE = "health__hl7v2_adt"
LOCK = 4242
# What must never be printed: the names and birth dates in the batch, in every form they take.
PEOPLE = [  # family, given, birth date (PID-7)
    ("ZEBEDEEFAMILY", "QUENTINGIVEN", "19700412"),  # an adult: held, payload written by INSERT
    ("YARROWFAMILY", "PERPETUAGIVEN", "20160930"),  # children: loaded (by COPY) first
    ("XANTHEFAMILY", "OTTOLINEGIVEN", "20150304"),
]


def personal_data() -> list[str]:
    out = []
    for family, given, born in PEOPLE:
        out += [family, given, born, f"{born[:4]}-{born[4:6]}-{born[6:]}"]
    return out


def feed(path: Path, prefix: str) -> Path:
    messages = [
        f"MSH|^~\\&|PAS|RCB|EHEGW|LA815|20261101090000||ADT^A28|{prefix}{n}|P|2.4\r"
        f"PID|1||{prefix}L{n}^^^RCB^PI||{family}^{given}||{born}|F"
        for n, (family, given, born) in enumerate(PEOPLE)
    ]
    path.write_text("\r\n".join(messages))
    return path


def _psycopg_url(index_url: str) -> str:
    return make_url(index_url).set(drivername="postgresql").render_as_string(hide_password=False)


class HeldInsertBlocked:
    """A trigger makes the load's INSERT into ``quarantine`` wait on an advisory lock this test
    holds; ``terminate`` then kills that waiting backend from this second connection."""

    def __init__(self, index_url: str) -> None:
        self.database = make_url(index_url).database
        self.conn = psycopg.connect(_psycopg_url(index_url), autocommit=True)
        self.conn.execute(
            "CREATE FUNCTION wait_for_test() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN PERFORM pg_advisory_xact_lock({LOCK}); RETURN NULL; END $$"
        )
        self.conn.execute(
            "CREATE TRIGGER wait_for_test BEFORE INSERT ON quarantine "
            "FOR EACH STATEMENT EXECUTE FUNCTION wait_for_test()"
        )
        self.conn.execute(f"SELECT pg_advisory_lock({LOCK})")

    def terminate_the_waiting_load(self, loading: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 120
        while loading() and time.monotonic() < deadline:
            row = self.conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event = 'advisory'",
                (self.database,),
            ).fetchone()
            if row:
                self.conn.execute("SELECT pg_terminate_backend(%s)", (row[0],))
                return
            time.sleep(0.05)
        raise AssertionError("the load never reached its INSERT of held records")

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def pg_index(pg_index_url: str) -> str:
    """pg_terminate_backend is PostgreSQL's: these tests run there alone."""
    return pg_index_url


def test_the_cli_prints_no_personal_data_when_the_connection_drops_mid_load(
    pg_index: str, tmp_path: Path
) -> None:
    blocker = HeldInsertBlocked(pg_index)
    try:
        cli = subprocess.Popen(
            [
                sys.executable,
                *("-m", "gateway.cli", "ingest", SOURCE),
                *("--path", str(feed(tmp_path / "adt.hl7", "C"))),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "EHE_INDEX_URL": pg_index, "EHE_DATA_DIR": str(tmp_path / "d")},
        )
        blocker.terminate_the_waiting_load(lambda: cli.poll() is None)
        output, _ = cli.communicate(timeout=120)
    finally:
        blocker.close()
    # One line, its documented exit code, and the drop really happened mid-load: the server's
    # AdminShutdown is what pg_terminate_backend gives the loading connection.
    assert cli.returncode == 7
    assert "error: index database out of reach (AdminShutdown)" in output
    # SQLAlchemy shortens long parameters (a name may fall in the cut), so: none shown at all
    assert "[parameters:" not in output
    for value in personal_data():
        assert value not in output


def test_the_exception_text_holds_no_personal_data_when_the_connection_drops(
    pg_index: str, tmp_path: Path
) -> None:
    blocker = HeldInsertBlocked(pg_index)
    failures: list[BaseException] = []

    def load() -> None:
        try:
            ingest(SOURCE, path=str(feed(tmp_path / "adt.hl7", "E")), index_url=pg_index)
        except Exception as error:  # the failure under test
            failures.append(error)

    worker = threading.Thread(target=load)
    try:
        worker.start()
        blocker.terminate_the_waiting_load(worker.is_alive)
        worker.join(120)
    finally:
        blocker.close()
    (error,) = failures
    text = "".join(traceback.format_exception(error))
    assert "terminating connection" in text
    assert "[parameters:" not in text
    for value in personal_data():
        assert value not in text
        assert value not in repr(error.args)
