"""The MLLP listener (asyncio): one message at a time per connection, ACKed once it is stored.

Why not ``hl7apy.mllp``: its server closes the connection after every message (senders keep
theirs open), reads the stream a byte at a time, parses nothing but the message type, and on a
frame it cannot route it closes the socket without any ACK, so a bad message is neither
answered AE/AR nor kept. Here: the stream is split into frames by the book
(``gateway.mllp.framing``: a start block always starts a new frame; a torn frame is kept in
``errors/`` and, as MLLP says, not answered), MSH is read and the message screened
(``gateway.mllp.header``), the message is committed to the store (``gateway.mllp.store``), and
only then is AA sent. Messages arriving together on several connections share one fsync (group
commit); each is still durable before its own ACK.

A message sent again with the same sender and control id (MSH-3, MSH-4, MSH-10) and the same
bytes is ACKed AA but stored once; if the first copy is still being committed, the ACK waits
for that commit. The same key with other bytes is answered AE (HL7 condition 205, duplicate
key) and both contents are kept in ``errors/``: one of the two is wrong, and the sender must
say which with a new control id.

A connection that sends nothing for ``idle_timeout_s`` is closed, and one beyond
``max_connections`` is closed as soon as it is accepted (``ListenerLimits``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import signal
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

from gateway.mllp.framing import Fragment, Frame, Framer
from gateway.mllp.header import (
    DUPLICATE_KEY,
    INTERNAL,
    Header,
    Refusal,
    acknowledgement,
    read_header,
)
from gateway.mllp.store import MessageStore, frame
from gateway.settings import MLLP_IDLE_TIMEOUT_S, MLLP_MAX_CONNECTIONS, settings

log = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 4 << 20
READ_BYTES = 1 << 16
STORE_UNAVAILABLE = "message store unavailable, send again"
CONFLICT = (
    "control id (MSH-10) already received from this sender (MSH-3, MSH-4) with different "
    "content; not stored: send it with a new control id"
)


@dataclass(frozen=True)
class ListenerLimits:
    """How long a silent connection stays open, and how many may be open at once.

    ``idle_timeout_s``: seconds without a byte before the listener closes a connection (0:
    never); a sender reconnects when it next has a message. Default 600, or
    ``EHE_MLLP_IDLE_TIMEOUT_S``. ``max_connections``: connections served at once; one more is
    closed as soon as it is accepted, with a log line. Default 32, or
    ``EHE_MLLP_MAX_CONNECTIONS``.
    """

    idle_timeout_s: float = MLLP_IDLE_TIMEOUT_S
    max_connections: int = MLLP_MAX_CONNECTIONS

    @classmethod
    def from_env(
        cls, idle_timeout_s: float | None = None, max_connections: int | None = None
    ) -> ListenerLimits:
        """The given values, else the environment's, else the defaults."""
        if idle_timeout_s is None:
            idle_timeout_s = settings().mllp_idle_timeout_s
        if max_connections is None:
            max_connections = settings().mllp_max_connections
        if idle_timeout_s < 0 or max_connections < 1:
            raise ValueError("idle timeout must be 0 or more, connections at least 1")
        return cls(idle_timeout_s, max_connections)


def _digest(message: bytes) -> bytes:
    return hashlib.blake2b(message, digest_size=16).digest()


class MllpListener:
    """Receives framed messages, commits them to the store and builds the ACKs."""

    def __init__(self, store: MessageStore, limits: ListenerLimits | None = None) -> None:
        self.store = store
        self.limits = limits or ListenerLimits()
        # sender and control id -> (digest of the stored bytes, done when they are committed)
        self.seen: dict[tuple[str, str, str], tuple[bytes, asyncio.Future[None]]] = {}
        self.counts = {
            "AA": 0,
            "AE": 0,
            "AR": 0,
            "duplicate": 0,
            "discarded": 0,
            "connections_refused": 0,
            "connections_idle_closed": 0,
        }
        self.open_connections = 0
        self._queue: list[tuple[bytes, asyncio.Future[None]]] = []
        self._committing = False
        self._disk = asyncio.Lock()
        self._drainer: asyncio.Task[None] | None = None

    def recover(self) -> int:
        """Open the store and remember the key and digest of every message it already holds."""
        loop = asyncio.get_running_loop()
        for message in self.store.open():
            with suppress(Refusal):
                done: asyncio.Future[None] = loop.create_future()
                done.set_result(None)
                self.seen[read_header(message).key] = (_digest(message), done)
        return len(self.seen)

    async def receive(self, message: bytes) -> bytes:
        """Store one message (or refuse it) and return the ACK to send."""
        try:
            header = read_header(message)
        except Refusal as refusal:
            return await self._refuse(message, refusal)
        digest = _digest(message)
        earlier = self.seen.get(header.key)
        if earlier is not None:
            first_digest, first_committed = earlier
            try:
                await asyncio.shield(first_committed)
            except OSError:
                return acknowledgement(header, "AE", STORE_UNAVAILABLE, INTERNAL)
            if first_digest != digest:
                return await self._conflict(message, header)
            self.counts["duplicate"] += 1
            return acknowledgement(header, "AA")
        committed = asyncio.get_running_loop().create_future()
        self.seen[header.key] = (digest, committed)
        try:
            await self._commit(message, committed)
        except OSError:
            del self.seen[header.key]
            log.exception("message store: commit failed; message %s refused", header.control_id)
            return acknowledgement(header, "AE", STORE_UNAVAILABLE, INTERNAL)
        self.counts["AA"] += 1
        return acknowledgement(header, "AA")

    async def _refuse(self, message: bytes, refusal: Refusal) -> bytes:
        async with self._disk:
            await asyncio.to_thread(self.store.keep_error, message, refusal.code, refusal.reason)
        self.counts[refusal.code] += 1
        control = refusal.header.control_id if refusal.header else "?"
        log.info("refused message %s: %s %s", control, refusal.code, refusal.reason)
        return acknowledgement(refusal.header, refusal.code, refusal.reason, refusal.error)

    async def _conflict(self, message: bytes, header: Header) -> bytes:
        """Same sender and control id, other bytes: AE, and both contents kept."""

        def is_first(stored: bytes) -> bool:
            try:
                return read_header(stored).key == header.key
            except Refusal:
                return False

        async with self._disk:
            first = await asyncio.to_thread(self.store.find, is_first)
            await asyncio.to_thread(self.store.keep_conflict, first, message, CONFLICT)
        self.counts["AE"] += 1
        log.info("refused message %s: AE same control id, different content", header.control_id)
        return acknowledgement(header, "AE", CONFLICT, DUPLICATE_KEY)

    async def _discard(self, fragment: Fragment) -> None:
        """A torn frame or stray bytes: kept in the error store, never answered (MLLP)."""
        async with self._disk:
            await asyncio.to_thread(
                self.store.keep_error, fragment.data, "discarded", fragment.reason
            )
        self.counts["discarded"] += 1
        log.info("discarded %d byte(s) unanswered: %s", len(fragment.data), fragment.reason)

    async def _commit(self, message: bytes, committed: asyncio.Future[None]) -> None:
        self._queue.append((message, committed))
        if not self._committing:
            self._committing = True
            self._drainer = asyncio.create_task(self._drain())
        await asyncio.shield(committed)

    async def _drain(self) -> None:
        """Write what has queued up, in one commit, until nothing is waiting."""
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    async with self._disk:
                        await self._write([m for m, _ in batch])
                except OSError as exc:
                    for _, waiter in batch:
                        waiter.set_exception(exc)
                    continue
                for _, waiter in batch:
                    waiter.set_result(None)
        finally:
            self._committing = False

    async def _write(self, messages: list[bytes]) -> None:
        if self.store.sync:
            await asyncio.to_thread(self.store.append, messages)
        else:
            self.store.append(messages)  # a write to the OS: microseconds, no thread hop
        if self.store.due():
            await asyncio.to_thread(self.store.seal)

    async def seal_when_due(self) -> None:
        while True:
            await asyncio.sleep(1)
            if self.store.due():
                async with self._disk:
                    await asyncio.to_thread(self.store.seal)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One sender's connection: frame after frame, each answered before the next is read."""
        if self.open_connections >= self.limits.max_connections:
            self.counts["connections_refused"] += 1
            log.warning(
                "connection refused: %d of %d connections open",
                self.open_connections,
                self.limits.max_connections,
            )
            await _close(writer)
            return
        self.open_connections += 1
        idle = _IdleTimer(self.limits.idle_timeout_s, writer)
        framer = Framer(MAX_MESSAGE_BYTES)
        why = "the connection closed"
        try:
            while data := await reader.read(READ_BYTES):
                idle.touch()
                for piece in framer.feed(data):
                    if isinstance(piece, Fragment):
                        await self._discard(piece)
                        continue
                    writer.write(frame(await self._answer(piece)))
                    await writer.drain()
        except (ConnectionError, OSError):
            why = "the connection failed"
        finally:
            idle.cancel()
            if idle.expired:
                why = "idle timeout"
                self.counts["connections_idle_closed"] += 1
                log.info("closed a connection idle for %s s", self.limits.idle_timeout_s)
            self.open_connections -= 1
            for fragment in framer.close(why):
                await self._discard(fragment)
            await _close(writer)

    async def _answer(self, piece: Frame) -> bytes:
        if piece.oversized:
            refusal = Refusal("AR", f"message larger than {MAX_MESSAGE_BYTES} bytes")
            return await self._refuse(piece.message, refusal)
        return await self.receive(piece.message)


class _IdleTimer:
    """Closes a connection's transport when nothing has arrived for ``seconds`` (0: never).

    One timer per connection, moved on only when it fires: a read costs a clock reading.
    """

    def __init__(self, seconds: float, writer: asyncio.StreamWriter) -> None:
        self.seconds = seconds
        self.expired = False
        self._writer = writer
        self._loop = asyncio.get_running_loop()
        self._last = self._loop.time()
        self._handle = self._loop.call_at(self._last + seconds, self._check) if seconds else None

    def touch(self) -> None:
        self._last = self._loop.time()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()

    def _check(self) -> None:
        due = self._last + self.seconds
        if self._loop.time() < due:
            self._handle = self._loop.call_at(due, self._check)
            return
        self.expired = True
        self._writer.transport.close()  # the reader sees the end of the stream


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with suppress(ConnectionError, OSError):
        await writer.wait_closed()


async def serve(
    store: MessageStore, host: str, port: int, limits: ListenerLimits | None = None
) -> tuple[asyncio.Server, MllpListener]:
    listener = MllpListener(store, limits)
    stored = listener.recover()
    log.info("message store %s: %d message(s) already held", store.root, stored)
    server = await asyncio.start_server(listener.handle, host, port)
    return server, listener


async def _run(
    store: MessageStore,
    host: str,
    port: int,
    ready: Callable[[str, int], None],
    limits: ListenerLimits | None,
) -> dict[str, int]:
    server, listener = await serve(store, host, port, limits)
    sealer = asyncio.create_task(listener.seal_when_due())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    bound_host, bound_port = server.sockets[0].getsockname()[:2]
    ready(bound_host, bound_port)
    async with server:
        await stop.wait()
    sealer.cancel()
    async with listener._disk:
        store.close()
    return listener.counts


def serve_forever(
    store: MessageStore,
    host: str,
    port: int,
    ready: Callable[[str, int], None],
    limits: ListenerLimits | None = None,
) -> dict[str, int]:
    """Listen until SIGINT or SIGTERM, then seal the journal; return the ACK counts."""
    return asyncio.run(_run(store, host, port, ready, limits))
