"""A plain MLLP sender (blocking sockets): sends a message, waits for its ACK.

What a hospital's interface engine does, for tests, the benchmark and trying a listener by hand.
"""

from __future__ import annotations

import socket
from types import TracebackType

from connectors.health.hl7v2_adt import MLLP_END, MLLP_START


class MllpClient:
    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = b""

    def send(self, message: bytes) -> bytes:
        """Send one message in its frame; return the ACK message (without its frame)."""
        self.sock.sendall(MLLP_START + message + MLLP_END)
        return self.receive()

    def receive(self) -> bytes:
        while MLLP_END not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("listener closed the connection before its ACK")
            self._buffer += chunk
        data, _, self._buffer = self._buffer.partition(MLLP_END)
        return data[data.find(MLLP_START) + 1 :]

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> MllpClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def ack_fields(ack: bytes) -> tuple[str, str, str]:
    """MSA-1 (the code), MSA-2 (the control id it answers) and MSA-3 (the reason) of an ACK."""
    for segment in ack.decode().split("\r"):
        if segment.startswith("MSA"):
            fields = [*segment.split(segment[3]), "", "", ""]
            return fields[1], fields[2], fields[3]
    raise ValueError("ACK without an MSA segment")
