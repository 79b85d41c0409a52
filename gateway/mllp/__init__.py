"""The MLLP listener: HL7 v2 ADT messages over TCP, each kept durably before it is ACKed.

``header`` reads what an ACK needs from MSH, ``store`` is the append-only message store the
HL7 connector later reads in batches, ``server`` the asyncio listener between them.
"""

from gateway.mllp.header import Header, Refusal, acknowledgement, read_header
from gateway.mllp.server import ListenerLimits, MllpListener, serve_forever
from gateway.mllp.store import MessageStore

__all__ = [
    "Header",
    "ListenerLimits",
    "MessageStore",
    "MllpListener",
    "Refusal",
    "acknowledgement",
    "read_header",
    "serve_forever",
]
