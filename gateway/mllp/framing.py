"""MLLP framing, by the book: bytes in, whole frames and discarded fragments out.

A block is a start block (0x0B), the message, an end block (0x1C) and a carriage return
(HL7 MLLP Release 2). A start block always starts a new block: if one arrives before the end
block of the block being read, that block is incomplete. The specification has the receiver
discard an incomplete block and acknowledge nothing for it; the sender, having no ACK, sends
the message again. Here it is discarded from the stream but kept (``Fragment``, with its
reason) for the error store, and the next block is read on its own. The same holds for a
block the connection closes on, and for bytes that arrive outside any block.

A block longer than the limit is not buffered whole: its first ``max_bytes`` are kept and
the rest skipped up to its end block, and it comes out as a ``Frame`` marked ``oversized`` (a
complete block, so it is answered, with AR).

Pure: no sockets, no clock, so every case is tested on bytes (``tests/test_mllp.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

START_BLOCK = 0x0B
END_BLOCK = b"\x1c\r"
_BLANK = b" \t\r\n"

TORN_BY_START = "torn frame: a new start block came before its end block"
OUTSIDE_A_FRAME = "bytes outside an MLLP frame"


@dataclass(frozen=True)
class Frame:
    """A complete block's message (only its head if ``oversized``)."""

    message: bytes
    oversized: bool = False


@dataclass(frozen=True)
class Fragment:
    """Bytes that are not a complete block: discarded unanswered, kept with the reason."""

    data: bytes
    reason: str


class Framer:
    """Splits one connection's byte stream into frames and fragments."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._buffer = bytearray()
        self._in_block = False
        self._scanned = 0  # bytes of the current block already searched for its end
        self._head: bytes | None = None  # an oversized block's first max_bytes

    def feed(self, data: bytes) -> list[Frame | Fragment]:
        """Take the next bytes; return what they complete, in order."""
        self._buffer += data
        out: list[Frame | Fragment] = []
        while self._next(out):
            pass
        return out

    def close(self, why: str) -> list[Fragment]:
        """The connection ends (``why``: closed, idle timeout): whatever is left is torn."""
        buffer, self._buffer = bytes(self._buffer), bytearray()
        if self._in_block:
            self._in_block = False
            kept = self._head if self._head is not None else buffer[: self.max_bytes]
            self._head = None
            return [Fragment(kept, f"torn frame: {why} before its end block")]
        if buffer.strip(_BLANK):
            return [Fragment(buffer, OUTSIDE_A_FRAME)]
        return []

    @property
    def holds_a_partial_frame(self) -> bool:
        return self._in_block

    def _next(self, out: list[Frame | Fragment]) -> bool:
        """Take one step; False when more bytes are needed."""
        if not self._in_block and not self._open_block(out):
            return False
        buffer = self._buffer
        scan_from = max(0, self._scanned - 1)  # an end block may straddle two reads
        end = buffer.find(END_BLOCK, scan_from)
        start = buffer.find(START_BLOCK, scan_from)
        if start >= 0 and (end < 0 or start < end):
            out.append(Fragment(self._kept(start), TORN_BY_START))
            del buffer[:start]
            self._end_block()
            return True
        if end >= 0:
            oversized = self._head is not None or end > self.max_bytes
            out.append(Frame(self._kept(end), oversized=oversized))
            del buffer[: end + len(END_BLOCK)]
            self._end_block()
            return True
        if self._head is None and len(buffer) > self.max_bytes:
            self._head = bytes(buffer[: self.max_bytes])
        if self._head is not None:  # skipping an oversized block: hold only a possible 0x1C
            del buffer[:-1]
        self._scanned = len(buffer)
        return False

    def _open_block(self, out: list[Frame | Fragment]) -> bool:
        """Find the next start block; keep what came before it if it is not blank."""
        buffer = self._buffer
        start = buffer.find(START_BLOCK)
        if start < 0:
            if len(buffer) > self.max_bytes:  # a sender that never frames: keep a head
                out.append(Fragment(bytes(buffer[: self.max_bytes]), OUTSIDE_A_FRAME))
                buffer.clear()
            return False
        if buffer[:start].strip(_BLANK):  # CR or LF between blocks is common, not stray
            out.append(Fragment(bytes(buffer[:start]), OUTSIDE_A_FRAME))
        del buffer[: start + 1]
        self._in_block, self._scanned = True, 0
        return True

    def _kept(self, stop: int) -> bytes:
        """The block's bytes up to ``stop``, or its head if it is over the limit."""
        if self._head is not None:
            return self._head
        return bytes(self._buffer[: min(stop, self.max_bytes)])

    def _end_block(self) -> None:
        self._in_block, self._scanned, self._head = False, 0, None
