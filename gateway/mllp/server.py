"""The MLLP listener (asyncio): one message at a time per connection, ACKed once it is stored.

Why not ``hl7apy.mllp``: its server closes the connection after every message (senders keep
theirs open), reads the stream a byte at a time, parses nothing but the message type, and on a
frame it cannot route it closes the socket without any ACK, so a bad message is neither
answered AE/AR nor kept. Here: frames are read whole (``readuntil`` the end block), MSH is read
and the message screened (``gateway.mllp.header``), the message is committed to the store
(``gateway.mllp.store``), and only then is AA sent. Messages arriving together on several
connections share one fsync (group commit); each is still durable before its own ACK.

A message sent again with the same sender and control id (MSH-3, MSH-4, MSH-10) is ACKed AA
but stored once; if the first copy is still being committed, the ACK waits for that commit.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from contextlib import suppress

from connectors.health.hl7v2_adt import MLLP_END, MLLP_START
from gateway.mllp.header import INTERNAL, SEGMENT_SEQUENCE, Refusal, acknowledgement, read_header
from gateway.mllp.store import MessageStore, frame

log = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 4 << 20


class MllpListener:
    """Receives framed messages, commits them to the store and builds the ACKs."""

    def __init__(self, store: MessageStore) -> None:
        self.store = store
        self.seen: dict[tuple[str, str, str], asyncio.Future[None]] = {}
        self.counts = {"AA": 0, "AE": 0, "AR": 0, "duplicate": 0}
        self._queue: list[tuple[bytes, asyncio.Future[None]]] = []
        self._committing = False
        self._disk = asyncio.Lock()
        self._drainer: asyncio.Task[None] | None = None

    def recover(self) -> int:
        """Open the store and remember the keys of every message it already holds."""
        loop = asyncio.get_running_loop()
        for message in self.store.open():
            with suppress(Refusal):
                done: asyncio.Future[None] = loop.create_future()
                done.set_result(None)
                self.seen[read_header(message).key] = done
        return len(self.seen)

    async def receive(self, message: bytes) -> bytes:
        """Store one message (or refuse it) and return the ACK to send."""
        try:
            header = read_header(message)
        except Refusal as refusal:
            return await self._refuse(message, refusal)
        earlier = self.seen.get(header.key)
        if earlier is not None:
            try:
                await asyncio.shield(earlier)
            except OSError:
                return acknowledgement(
                    header, "AE", "message store unavailable, send again", INTERNAL
                )
            self.counts["duplicate"] += 1
            return acknowledgement(header, "AA")
        committed = asyncio.get_running_loop().create_future()
        self.seen[header.key] = committed
        try:
            await self._commit(message, committed)
        except OSError:
            del self.seen[header.key]
            log.exception("message store: commit failed; message %s refused", header.control_id)
            return acknowledgement(header, "AE", "message store unavailable, send again", INTERNAL)
        self.counts["AA"] += 1
        return acknowledgement(header, "AA")

    async def _refuse(self, message: bytes, refusal: Refusal) -> bytes:
        async with self._disk:
            await asyncio.to_thread(self.store.keep_error, message, refusal.code, refusal.reason)
        self.counts[refusal.code] += 1
        control = refusal.header.control_id if refusal.header else "?"
        log.info("refused message %s: %s %s", control, refusal.code, refusal.reason)
        return acknowledgement(refusal.header, refusal.code, refusal.reason, refusal.error)

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
        try:
            while True:
                try:
                    data = await reader.readuntil(MLLP_END)
                except asyncio.IncompleteReadError:
                    return  # the sender closed (a torn frame was never ACKed: it resends)
                except asyncio.LimitOverrunError as exc:
                    head = await reader.readexactly(exc.consumed)
                    await _skip_frame(reader)
                    refusal = Refusal("AR", f"message larger than {MAX_MESSAGE_BYTES} bytes")
                    writer.write(frame(await self._refuse(head, refusal)))
                    await writer.drain()
                    continue
                start = data.find(MLLP_START)
                if start < 0:
                    ack = await self._refuse(
                        data, Refusal("AR", "no MLLP start block", error=SEGMENT_SEQUENCE)
                    )
                else:
                    ack = await self.receive(data[start + 1 : -len(MLLP_END)])
                writer.write(frame(ack))
                await writer.drain()
        except (ConnectionError, OSError):
            return
        finally:
            writer.close()
            with suppress(ConnectionError, OSError):
                await writer.wait_closed()


async def _skip_frame(reader: asyncio.StreamReader) -> None:
    """Read past the rest of an oversized frame (its head is kept in the error store)."""
    while True:
        try:
            await reader.readuntil(MLLP_END)
            return
        except asyncio.LimitOverrunError as exc:
            await reader.readexactly(exc.consumed)


async def serve(store: MessageStore, host: str, port: int) -> tuple[asyncio.Server, MllpListener]:
    listener = MllpListener(store)
    stored = listener.recover()
    log.info("message store %s: %d message(s) already held", store.root, stored)
    server = await asyncio.start_server(listener.handle, host, port, limit=MAX_MESSAGE_BYTES)
    return server, listener


async def _run(
    store: MessageStore, host: str, port: int, ready: Callable[[str, int], None]
) -> dict[str, int]:
    server, listener = await serve(store, host, port)
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
    store: MessageStore, host: str, port: int, ready: Callable[[str, int], None]
) -> dict[str, int]:
    """Listen until SIGINT or SIGTERM, then seal the journal; return the ACK counts."""
    return asyncio.run(_run(store, host, port, ready))
