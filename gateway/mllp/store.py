"""The listener's message store: an append-only journal of MLLP frames, sealed into batches.

Each accepted message is appended to ``journal.open`` exactly as it arrived, in its MLLP frame
(start block, message, end block), and written to the operating system (``sync=False``) or to
the disk (``sync=True``, fsync) before the listener ACKs it. A frame cut short by a kill was
never ACKed, so recovery drops it: the sender sends it again. The journal is sealed into
``sealed/<time>-<n>.hl7`` every ``seal_every`` messages, when it grows old, at shutdown and at
start-up; the HL7 connector reads sealed files as its drop folder (``ehe-gateway ingest
health__hl7v2_adt --path <store>/sealed``), and landing keeps each one byte-exact as a batch.

A message that is refused is kept in ``errors/`` with a JSON note of the code and reason: AR or
AE as it was answered, or ``discarded`` for a torn frame or stray bytes that MLLP leaves
unanswered. A message refused because its control id was already taken by other content is kept
beside the content that took it (``<name>.first.hl7``), so both can be compared.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from connectors.health.hl7v2_adt import MLLP_END, MLLP_START

log = logging.getLogger(__name__)
JOURNAL = "journal.open"


def frame(message: bytes) -> bytes:
    return MLLP_START + message + MLLP_END


def read_frames(data: bytes) -> tuple[list[bytes], int]:
    """The complete frames in ``data``, and how many bytes they take (the rest is a torn tail)."""
    messages: list[bytes] = []
    end = 0
    while True:
        stop = data.find(MLLP_END, end)
        if stop < 0 or not data.startswith(MLLP_START, end):
            return messages, end
        messages.append(data[end + 1 : stop])
        end = stop + len(MLLP_END)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MessageStore:
    """Append-only, fsync-on-commit storage for accepted messages, plus the error store."""

    def __init__(
        self, root: Path, *, sync: bool = True, seal_every: int = 10_000, seal_after_s: float = 60
    ) -> None:
        self.root = root
        self.sync = sync
        self.seal_every = seal_every
        self.seal_after_s = seal_after_s
        self.sealed_dir = root / "sealed"
        self.errors_dir = root / "errors"
        self._handle: int | None = None
        self._count = 0
        self._opened_at = 0.0
        self._sealed = 0
        self._errors = 0

    # -- start-up ----------------------------------------------------------------------------

    def open(self) -> list[bytes]:
        """Recover the journal a killed listener left, seal it, and return every stored message.

        The caller rebuilds its duplicate check from what this returns.
        """
        for folder in (self.root, self.sealed_dir, self.errors_dir):
            folder.mkdir(parents=True, exist_ok=True)
        journal = self.root / JOURNAL
        if journal.exists():
            data = journal.read_bytes()
            _, end = read_frames(data)
            if end < len(data):
                log.warning("message store: dropped a torn frame of %d bytes", len(data) - end)
                with journal.open("r+b") as handle:
                    handle.truncate(end)
                    os.fsync(handle.fileno())
            self._count = 1 if end else 0
            self._seal_journal()
        return list(self.stored_messages())

    def stored_messages(self) -> Iterator[bytes]:
        for path in sorted(self.sealed_dir.glob("*.hl7")):
            yield from read_frames(path.read_bytes())[0]

    def find(self, wanted: Callable[[bytes], bool]) -> bytes | None:
        """The first stored message, sealed or still in the journal, that ``wanted`` picks.

        Reads the whole store: for the rare message whose control id was already taken.
        """
        journal = self.root / JOURNAL
        pending = read_frames(journal.read_bytes())[0] if journal.exists() else []
        for message in (*self.stored_messages(), *pending):
            if wanted(message):
                return message
        return None

    # -- commits -----------------------------------------------------------------------------

    def append(self, messages: Iterable[bytes]) -> None:
        """Write the messages (in frames) and, if ``sync``, fsync: when this returns they are
        durable. One call for several messages is one fsync (a group commit)."""
        if self._handle is None:
            self._open_journal()
        assert self._handle is not None
        data = b"".join(frame(m) for m in messages)
        written = 0
        while written < len(data):
            written += os.write(self._handle, data[written:])
        if self.sync:
            os.fdatasync(self._handle)
        self._count += data.count(MLLP_END)

    def due(self) -> bool:
        if self._handle is None or not self._count:
            return False
        aged = time.monotonic() - self._opened_at >= self.seal_after_s
        return self._count >= self.seal_every or aged

    def seal(self) -> Path | None:
        """Close the journal as a sealed batch file (nothing if it holds no message)."""
        if self._handle is not None:
            os.fsync(self._handle)
            os.close(self._handle)
            self._handle = None
        return self._seal_journal()

    def _open_journal(self) -> None:
        self._handle = os.open(self.root / JOURNAL, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._opened_at = time.monotonic()
        self._count = 0
        _fsync_dir(self.root)

    def _seal_journal(self) -> Path | None:
        journal = self.root / JOURNAL
        if not journal.exists():
            return None
        if not self._count or journal.stat().st_size == 0:
            journal.unlink()
            return None
        self._sealed += 1
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        target = self.sealed_dir / f"mllp-{stamp}-{os.getpid()}-{self._sealed}.hl7"
        journal.replace(target)
        _fsync_dir(self.sealed_dir)
        _fsync_dir(self.root)
        self._count = 0
        log.info("message store: sealed batch file %s", target.name)
        return target

    # -- refused messages --------------------------------------------------------------------

    def keep_error(self, message: bytes, code: str, reason: str) -> Path:
        """Keep a refused message byte-exact, with a note of the code and reason, durably."""
        return self._keep({".hl7": message}, {"code": code, "reason": reason})

    def keep_conflict(self, first: bytes | None, second: bytes, reason: str) -> Path:
        """Keep a message refused AE for a control id already taken, beside the stored one."""
        files = {".hl7": second}
        if first is not None:
            files[".first.hl7"] = first
        return self._keep(files, {"code": "AE", "reason": reason})

    def _keep(self, files: dict[str, bytes], note: dict[str, object]) -> Path:
        self._errors += 1
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        base = self.errors_dir / f"{stamp}-{os.getpid()}-{self._errors}"
        note = {**note, "received_at": stamp, "bytes": len(files[".hl7"])}
        if ".first.hl7" in files:
            note["first_file"] = f"{base.name}.first.hl7"
        contents = {f"{base.name}{suffix}": data for suffix, data in files.items()}
        contents[f"{base.name}.json"] = json.dumps(note).encode()
        for name, content in contents.items():
            with (self.errors_dir / name).open("wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
        _fsync_dir(self.errors_dir)
        return base.with_suffix(".hl7")

    def errors(self) -> list[dict[str, object]]:
        """The notes of the refused messages, oldest first."""
        notes = []
        for path in sorted(self.errors_dir.glob("*.json")):
            notes.append({"file": path.with_suffix(".hl7").name, **json.loads(path.read_text())})
        return notes

    def close(self) -> Path | None:
        return self.seal()


def default_store_dir() -> Path:
    """``EHE_MLLP_DIR``, or ``mllp/`` in the data folder."""
    from gateway import config

    return config.mllp_dir()
