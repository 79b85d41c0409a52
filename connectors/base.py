"""The contract every connector passes.

A connector declares its streams, takes a plain config dict and a bookmark, and does two things:
``extract`` fetches what is new from the agency system into files (a file source just finds its
files; a database or API source writes what it read), and ``parse`` reads one landed file back
as plain dicts. Everything landed is a file, so any batch can be parsed again after a mapping
fix without asking the source again. Nothing here imports Airflow.
"""

from __future__ import annotations

import json
import marshal
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from gateway.errors import FatalConfigError, UnreadablePathError

# A line longer than this is refused as oversized rather than read into memory whole.
MAX_LINE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Stream:
    """One kind of record a source sends: its name, key, bookmark field and JSON schema.

    Key and bookmark fields are dotted paths into the record (``ChildIdentifiers.LAchildID``).
    """

    name: str
    primary_key: tuple[str, ...]
    bookmark_field: str | None
    schema: Mapping[str, Any]

    def key_of(self, record: Mapping[str, Any]) -> tuple[str, ...]:
        """The record's primary key as text (lists and objects as canonical JSON)."""
        return tuple(_as_text(field_value(record, name)) for name in self.primary_key)


_NUMBER = (1 << 24) - 1
_CONTENT = (1 << 40) - 1
_DIGITS = "0123456789"


def _split_position(position: str) -> tuple[str, int]:
    """``reg.csv line 12`` -> (``reg.csv line ``, 12); 0 where there is no number to keep."""
    head = position.rstrip(_DIGITS)
    digits = position[len(head) :]
    if not digits or int(digits) > _NUMBER:
        return position, 0
    return head, int(digits)


def _content_hash(record: dict[str, Any]) -> int:
    """A hash of a record's content, equal for equal records within one process.

    marshal (format 2: no back-references, so the bytes depend only on the values and their
    order) writes a parsed record about twice as fast as repr; a record holding a type it does
    not take (a datetime, say) is hashed by its repr.
    """
    try:
        return hash(marshal.dumps(record, 2))
    except ValueError:
        return hash(repr(record))


def field_value(record: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted path, or None where the path stops."""
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


class SourceConfig(dict[str, Any]):
    """A connector's config: a plain dict whose repr names the keys and hides every value."""

    def __repr__(self) -> str:
        return f"<config keys: {', '.join(sorted(self)) or 'none'}>"

    __str__ = __repr__


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
    # How the source is run (``connectors/registry.py`` lists them; DAGs, pools, freshness,
    # the row-count gate and the synthetic inbox read these, nothing keeps a copy):
    # when its ingest DAG runs (a cron expression or an Airflow preset such as ``@hourly``),
    schedule: ClassVar[str]
    # the Airflow pool capping concurrent work against its system (``ehe_source__<source>``),
    pool: ClassVar[str]
    # whether each delivery is a whole snapshot (then a delivery far from the last one in row
    # count is stopped: see the canonical suite's ``row_count_gate``),
    full_snapshot: ClassVar[bool] = False
    # whether the demo (``ehe-gateway synth`` and ``run-dags --all``) runs it,
    in_demo: ClassVar[bool] = True
    # its folder under the inbox (``EHE_INBOX``), None for a network API,
    inbox_folder: ClassVar[str | None] = None
    # and hours without a good batch before it counts as stale (a few of its send intervals).
    stale_after_hours: ClassVar[float] = 26.0
    # Config keys that hold secrets: read from the environment or Airflow Connections only.
    secret_fields: ClassVar[tuple[str, ...]] = ()
    required_config: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "source" in cls.__dict__ and "pool" not in cls.__dict__:
            cls.pool = f"ehe_source__{cls.source}"

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config: SourceConfig = SourceConfig(config or {})
        # What the last file parsed held that is not a record of this stream (a FHIR
        # OperationOutcome, an SSDA903 episodes table), counted by kind: kept in the landed
        # file, not read, never silently dropped: staging counts it on the batch (received =
        # loaded + quarantined + rejected + not read + gated). ``parse`` resets and fills it.
        self.not_read: Counter[str] = Counter()
        missing = [key for key in self.required_config if not self.config.get(key)]
        if missing:
            raise FatalConfigError(f"{self.source}: missing config {', '.join(missing)}")

    @classmethod
    def inbox_config(cls, folder: Path) -> dict[str, str]:
        """The config that reads this source's inbox folder (a file drop: the folder itself)."""
        return {"path": str(folder)}

    @classmethod
    def contract_config(cls, inbox: Path) -> dict[str, Any] | None:
        """Config for the contract suite, given a synthetic inbox; None: the inbox layout."""
        return None

    @classmethod
    def broken_config(cls, tmp: Path) -> tuple[dict[str, Any], type[Exception]]:
        """A config whose source cannot be read, and the error class that must say so."""
        return {"path": str(tmp / "no-such-folder")}, FatalConfigError

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

    def count_records(self, path: Path) -> int | None:
        """How many records a landed file holds, counted without the parser (opening and
        closing tags, rows), so staging can check every one is accounted for; None where the
        source has no such count. A file with no record in it may still give one item (the
        reason it was refused)."""
        return None

    def read(self, path: Path) -> Iterator[Extracted]:
        """``parse``, with a record whose key already came earlier in the file held, not kept.

        An exact repeat is held as a duplicate; a repeat with different content is held as a
        conflict, since either copy may be the wrong one. Per record only two integers are kept
        (a 64-bit digest of the key; a 40-bit digest of the content packed with the number of
        the first position), about 120 bytes, so a census of 100,000 children adds ~12 MB.
        """
        seen: dict[int, int] = {}
        for item in self.parse(path):
            if item.record is None:
                yield item
                continue
            prefix, number = _split_position(item.position)
            # Python's own hash (SipHash, 64 bits) is stable within one process, which is all
            # ``seen`` needs: it lives for one read.
            content = (_content_hash(item.record) & _CONTENT) << 24
            packed = content | number
            key = hash(self.stream.key_of(item.record))
            first = seen.get(key)
            if first is None:
                seen[key] = packed
                yield item
                continue
            earlier = f"{prefix}{first & _NUMBER}" if first & _NUMBER else "an earlier item"
            named = "+".join(self.stream.primary_key)
            error = (
                f"duplicate of {earlier} (same {named})"
                if first & ~_NUMBER == content
                else f"same {named} as {earlier} with different content"
            )
            yield Extracted(
                item.position, error=error, raw=json.dumps(item.record, sort_keys=True, default=str)
            )

    def __repr__(self) -> str:  # never show config: it may hold secrets
        return f"<{type(self).__name__} {self.source}>"


class FileDropConnector(Connector):
    """A source that delivers files into a folder (config ``path``: a file or a folder).

    ``extract`` offers every entry whose name matches (links, pipes and devices included, so
    that landing refuses them with a reason rather than skipping them unseen; only folders
    are passed over); landing keys batches by content hash, so a file already received is
    recognised and adds nothing.
    """

    patterns: ClassVar[tuple[str, ...]]
    required_config = ("path",)

    def check(self) -> None:
        if not Path(self.config["path"]).exists():
            raise UnreadablePathError(
                f"{self.source}: no such file or folder {self.config['path']}"
            )

    def extract(self, work_dir: Path, bookmark: str | None) -> Extraction:
        self.check()
        root = Path(self.config["path"])
        if not root.is_dir():
            return Extraction(files=[root])
        found = {
            p
            for pattern in self.patterns
            for p in root.glob(pattern)
            if p.is_symlink() or not p.is_dir()
        }
        return Extraction(files=sorted(found))


def read_json_lines(path: Path, max_line: int = MAX_LINE_BYTES) -> Iterator[Extracted]:
    """Each line a UTF-8 JSON object; a line that is not one is returned as an error.

    Errors name the file, line and (for bad JSON) the column; never the line's content. An
    over-long line is held as oversized (its first bytes kept) without reading it whole.
    """
    with path.open("rb") as handle:
        number = 0
        while True:
            line = handle.readline(max_line + 1)
            if not line:
                return
            number += 1
            position = f"{path.name} line {number}"
            if len(line) > max_line and not line.endswith(b"\n"):
                yield Extracted(
                    position, error=f"line longer than {max_line} bytes", raw=_text(line[:4096])
                )
                _skip_rest_of_line(handle)
                continue
            if line.strip(b" \t\r\n"):
                yield json_object(line, position)


def json_object(line: bytes, position: str) -> Extracted:
    """One JSON object from UTF-8 bytes (a leading BOM allowed), or the reason it is not one."""
    try:
        value = json.loads(line.rstrip(b"\r\n").decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        return Extracted(position, error=f"not UTF-8 at byte {exc.start}", raw=_text(line))
    except json.JSONDecodeError as exc:
        return Extracted(
            position, error=f"not JSON: {exc.msg} at column {exc.colno}", raw=_text(line)
        )
    except RecursionError:
        return Extracted(position, error="JSON nested too deeply", raw=_text(line[:4096]))
    if not isinstance(value, dict):
        return Extracted(position, error="not a JSON object", raw=_text(line))
    return Extracted(position, record=value)


def _skip_rest_of_line(handle: Any) -> None:
    while True:
        chunk = handle.readline(MAX_LINE_BYTES)
        if not chunk or chunk.endswith(b"\n"):
            return


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")
