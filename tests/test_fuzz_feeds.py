"""Mutated real and synthetic files, every file source: nothing crashes, nothing goes missing.

Each source's valid files (the synthetic inbox, and the published samples where there are any)
are damaged with seeded mutations: a flipped bit, a cut, an inserted quote or angle bracket, a
line written twice. The reader must never raise, every item must be a record or an error, and
the items read (with what the connector kept not read) must match the records counted without
the parser: record tags, CSV data lines, JSON lines, Bundle entries, MSH and PID segments.
A few mutated files then go through the real pipeline on SQLite (and PostgreSQL): received =
loaded + quarantined + rejected + not read + gated, and received = the count.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from connectors.base import Connector, FileDropConnector
from connectors.registry import CONNECTORS
from gateway.pipeline import accounting_rows, ingest

FILE_SOURCES = sorted(
    name
    for name, cls in CONNECTORS.items()
    if issubclass(cls, FileDropConnector) and cls.inbox_folder is not None
)
SAMPLE_FILES = {  # source: (folder under the published samples, file patterns)
    "social_care__cin_census": ("social-care/cin", ("*.xml",)),
    "health__hl7v2_adt": ("hl7v2", ("*/*.hl7",)),
    "health__fhir_patient": ("fhir", ("nhs-pds/*.json", "hl7-r4-examples/Bundle-*.json")),
    # the small tables of the return: the header, a table of no child record, and OC3
    "social_care__ssda903": ("social-care/ssda903", ("liiatools_*.csv", "d2i_oc3.csv")),
}
MUTATIONS_PER_FILE = 36
Mutation = Callable[[bytes, random.Random], bytes]


def _flip(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data))
    return data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1 :]


def _cut(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))]


def _insert(what: bytes) -> Mutation:
    def insert(data: bytes, rng: random.Random) -> bytes:
        at = rng.randrange(len(data) + 1)
        return data[:at] + what + data[at:]

    return insert


def _repeat_line(data: bytes, rng: random.Random) -> bytes:
    lines = data.splitlines(keepends=True)
    at = rng.randrange(len(lines))
    return b"".join([*lines[: at + 1], lines[at], *lines[at + 1 :]])


MUTATIONS: list[Mutation] = [
    _flip,
    _cut,
    _insert(b'"'),
    _insert(b"<"),
    _insert(b">"),
    _repeat_line,
]


def _independent_count(connector: Connector, path: Path) -> int | None:
    """The connector's own count without its parser: every file source has one."""
    counted = connector.count_records(path)
    assert counted is not None, f"{connector.source} counts no records in {path.name}"
    return counted


def _valid_files(inbox: Path, samples: Path | None) -> Iterator[tuple[str, Path]]:
    for source in FILE_SOURCES:
        folder = inbox / str(CONNECTORS[source].inbox_folder)
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            yield source, path
        if samples is not None and source in SAMPLE_FILES:
            under, patterns = SAMPLE_FILES[source]
            for pattern in patterns:
                for path in sorted((samples / under).glob(pattern)):
                    yield source, path


def _accounted(counted: int | None, received: int) -> bool:
    return counted is None or received == counted or (counted == 0 and received <= 1)


def test_mutated_files_never_crash_and_every_record_is_counted(
    synthetic_inbox: Path, tmp_path: Path
) -> None:
    from conftest import SAMPLES

    samples = SAMPLES if SAMPLES.is_dir() else None
    rng = random.Random(20261204)
    checked = 0
    for source, original in _valid_files(synthetic_inbox, samples):
        data = original.read_bytes()
        connector = CONNECTORS[source]({"path": str(tmp_path)})
        for number in range(MUTATIONS_PER_FILE):
            mutate = MUTATIONS[number % len(MUTATIONS)]
            path = tmp_path / f"{number}{original.suffix}"
            path.write_bytes(mutate(data, rng))
            items = list(connector.read(path))  # must not raise
            assert all((i.record is None) != (i.error is None) for i in items)
            counted = _independent_count(connector, path)
            # what the connector kept without reading (another resource type) is counted by it
            read = len(items) + sum(connector.not_read.values())
            assert _accounted(counted, read), (
                f"{source} {original.name} {mutate.__name__}: {counted} counted, {len(items)} read"
            )
            checked += 1
    assert checked > 100


@pytest.mark.parametrize(
    "source",
    [
        "education__ctf",
        "education__ehe_register",
        "social_care__cin_census",
        "health__hl7v2_adt",
        "health__fhir_patient",
    ],
)
def test_mutated_batches_are_accounted_for_in_the_index(
    source: str, index_url: str, inbox: Path, tmp_path: Path
) -> None:
    """A damaged file through the pipeline: received = loaded + quarantined + rejected + gated,
    and received = the records counted without the parser."""
    (original,) = (inbox / str(CONNECTORS[source].inbox_folder)).iterdir()
    rng = random.Random(sum(map(ord, source)))
    for number, mutate in enumerate((_flip, _insert(b'"'), _repeat_line)):
        drop = tmp_path / f"drop{number}"
        drop.mkdir()
        path = drop / original.name
        shutil.copyfile(original, path)
        path.write_bytes(mutate(original.read_bytes(), rng))
        counted = CONNECTORS[source]({"path": str(drop)}).count_records(path)
        (batch,) = ingest(source, path=str(drop), index_url=index_url)
        assert batch.received == (
            batch.loaded + batch.quarantined + batch.rejected + batch.not_read + batch.gated
        ), batch
        assert _accounted(counted, batch.received), (counted, batch)
    assert len(accounting_rows(index_url)) == 3
