"""The contract every connector passes.

A connector declares its streams, takes a plain config dict and a bookmark, and does two things:
``extract`` fetches what is new from the agency system into files (a file source just finds its
files; a database or API source writes what it read), and ``parse`` reads one landed file back
as plain dicts. Everything landed is a file, so any batch can be parsed again after a mapping
fix without asking the source again. Nothing here imports Airflow.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from gateway.errors import FatalConfigError


@dataclass(frozen=True)
class Stream:
    """One kind of record a source sends: its name, key, bookmark field and JSON schema."""

    name: str
    primary_key: tuple[str, ...]
    bookmark_field: str | None
    schema: Mapping[str, Any]


@dataclass(frozen=True)
class Extracted:
    """One item read from a landed file: a record, or the reason it could not be read.

    ``position`` says where in the file it was (``line 12``, ``message 3``); ``raw`` keeps the
    unreadable text so that a rejected item is held, not dropped.
    """

    position: str
    record: dict[str, Any] | None = None
    error: str | None = None
    raw: str = ""

    @property
    def ok(self) -> bool:
        return self.record is not None


@dataclass(frozen=True)
class Extraction:
    """What ``extract`` found: files to land, and the bookmark to keep once they are landed."""

    files: list[Path] = field(default_factory=list)
    bookmark: str | None = None


class Connector(ABC):
    """Base of every connector: class attributes declare it, two methods do the work."""

    source: ClassVar[str]
    agency: ClassVar[str]
    stream: ClassVar[Stream]
    description: ClassVar[str]
    # Config keys that hold secrets: read from the environment or Airflow Connections only.
    secret_fields: ClassVar[tuple[str, ...]] = ()
    required_config: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config: dict[str, Any] = dict(config or {})
        missing = [key for key in self.required_config if not self.config.get(key)]
        if missing:
            raise FatalConfigError(f"{self.source}: missing config {', '.join(missing)}")

    @abstractmethod
    def extract(self, work_dir: Path, bookmark: str | None) -> Extraction:
        """Fetch what is new since ``bookmark`` as files (in ``work_dir`` if written)."""

    @abstractmethod
    def parse(self, path: Path) -> Iterator[Extracted]:
        """Read one landed file, yielding every item in it: records and unreadable ones."""

    @abstractmethod
    def check(self) -> None:
        """Raise FatalConfigError or RetriableSourceError if the source cannot be read now."""

    def discover(self) -> list[Stream]:
        return [self.stream]

    def __repr__(self) -> str:  # never show config: it may hold secrets
        return f"<{type(self).__name__} {self.source}>"


class FileDropConnector(Connector):
    """A source that delivers files into a folder (config ``path``: a file or a folder).

    ``extract`` offers every matching file; landing keys batches by content hash, so a file
    already received is recognised and adds nothing.
    """

    patterns: ClassVar[tuple[str, ...]]
    required_config = ("path",)

    def check(self) -> None:
        if not Path(self.config["path"]).exists():
            raise FatalConfigError(f"{self.source}: no such file or folder {self.config['path']}")

    def extract(self, work_dir: Path, bookmark: str | None) -> Extraction:
        self.check()
        root = Path(self.config["path"])
        if root.is_file():
            return Extraction(files=[root])
        found = {p for pattern in self.patterns for p in root.glob(pattern) if p.is_file()}
        return Extraction(files=sorted(found))


def read_json_lines(path: Path) -> Iterator[Extracted]:
    """Each line a JSON object; a line that is not one is returned as an error."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            position = f"{path.name} line {number}"
            try:
                value = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                yield Extracted(
                    position, error=f"not JSON: {exc.__class__.__name__}", raw=_text(line)
                )
                continue
            if not isinstance(value, dict):
                yield Extracted(position, error="not a JSON object", raw=_text(line))
                continue
            yield Extracted(position, record=value)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")
