"""Benchmark: HL7 v2 ADT over MLLP, commit before ACK, and the HL7 parse in staging.

1. The listener (``ehe-gateway mllp``, its own process) receiving from one sender that waits for
   each ACK, with ``--fsync`` (each message fsync'd before its ACK: survives power loss) and
   ``--no-fsync`` (written to the OS before its ACK: survives a kill of the listener); then
   several senders at once with ``--fsync``, where messages arriving together share an fsync.
2. The parse, on the same messages, before and after side by side: hl7apy's default
   ``parse_message`` (before), hl7apy's ``parse_field`` on the fields the index needs (the
   connector until now), and the connector's parse (``parse_adt``: the needed fields read from
   the ER7 with the message's own encoding characters, held to hl7apy's parse by
   ``tests/test_hl7_er7.py``).
3. Staging (parse, map, validate) of the batch file the listener sealed.

Size with BENCH_MLLP_MESSAGES (default 3000), BENCH_MLLP_SENDERS (default 4).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from workspace import temporary_gateway

from gateway.mllp.client import MllpClient, ack_fields


def _valid_nhs_numbers(count: int) -> list[str]:
    from stdnum.gb import nhs

    found: list[str] = []
    serial = 0
    while len(found) < count:
        candidate = f"999{serial:07d}"
        serial += 1
        if nhs.is_valid(candidate):
            found.append(candidate)
    return found


NHS_NUMBERS = _valid_nhs_numbers(1000)


def message(n: int) -> bytes:
    """An NHS ITK-style ADT^A28, v2.4, with a PAS id and an NHS number in PID-3."""
    event = ("A28", "A08", "A04", "A01")[n % 4]
    return "\r".join(
        [
            f"MSH|^~\\&|PAS|RCB|EHEGW|LA815|20261101090000||ADT^{event}^ADT_A01|B{n:09d}|P|2.4"
            "|||AL|NE|GBR",
            f"EVN|{event}|20261101085900",
            f"PID|1||P{n:08d}^^^RCB^PI~{NHS_NUMBERS[n % 1000]}^^^NHS^NH||FAMILY{n % 97}^"
            f"GIVEN{n % 89}^^^MISS||2015{1 + n % 12:02d}{1 + n % 28:02d}|F|||{n} HIGH STREET^^"
            "MALTON^^YO17 7AA^GBR^H||01234567890",
            "PD1|||MALTON PRACTICE^^B82001",
            "PV1|1|O|||||||||||||||||||||||||||||||||||||||||20261101085900",
            "ZU1|20261101|Y|",
        ]
    ).encode()


def start_listener(store: Path, *fsync: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "--log-level",
            "WARNING",
            "mllp",
            "--port",
            "0",
            "--store",
            str(store),
            "--seal-every",
            "100000000",
            *fsync,
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    return process, int(line.split(" on ")[1].split(",")[0].rsplit(":", 1)[1])


def send_all(port: int, messages: list[bytes]) -> None:
    with MllpClient("127.0.0.1", port) as client:
        for m in messages:
            code = ack_fields(client.send(m))[0]
            if code != "AA":
                raise RuntimeError(f"listener answered {code}")


def run_listener(store: Path, messages: list[bytes], senders: int, *fsync: str) -> float:
    process, port = start_listener(store, *fsync)
    try:
        share = [messages[i::senders] for i in range(senders)]
        threads = [threading.Thread(target=send_all, args=(port, s)) for s in share]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(30)


def listener_figures(root: Path, messages: list[bytes], senders: int) -> Path:
    size_kb = sum(len(m) for m in messages) / 1024
    print(f"MLLP listener: {len(messages)} ADT messages, {size_kb:.0f} KiB")
    print(f"{'mode':40} {'seconds':>8} {'messages/s':>11}")
    cases = [
        ("1 sender, --no-fsync (kill-safe)", "nofsync", 1, ("--no-fsync",)),
        ("1 sender, --fsync (power-loss-safe)", "fsync", 1, ("--fsync",)),
        (f"{senders} senders, --fsync (group commit)", "group", senders, ("--fsync",)),
    ]
    for label, folder, count, flags in cases:
        seconds = run_listener(root / folder, messages, count, *flags)
        print(f"{label:40} {seconds:>8.2f} {len(messages) / seconds:>11.0f}")
    return next((root / "nofsync" / "sealed").glob("*.hl7"))


def _hl7apy_needed_fields(text: str) -> dict[str, object]:
    """The connector until now: hl7apy ``parse_field`` (tolerant) on each needed field."""
    from hl7apy.consts import VALIDATION_LEVEL
    from hl7apy.parser import parse_field

    from connectors.health.hl7v2_adt import NEEDED_FIELDS, segments_of
    from connectors.health.hl7v2_er7 import Encoding

    segments = segments_of(text)
    encoding = Encoding.of(segments[0])
    chars = encoding.hl7apy_chars()
    version = segments[0].split("|")[11]
    record: dict[str, object] = {}
    for segment in segments:
        numbers = NEEDED_FIELDS.get(segment[:3], ())
        values = segment.split("|")
        offset = 1 if segment.startswith("MSH") else 0
        for number in numbers:
            if number - offset < len(values) and values[number - offset]:
                record[f"{segment[:3]}-{number}"] = [
                    parse_field(
                        rep,
                        name=f"{segment[:3]}_{number}",
                        version=version,
                        encoding_chars=chars,
                        validation_level=VALIDATION_LEVEL.TOLERANT,
                    ).to_er7()
                    for rep in values[number - offset].split("~")
                ]
    return record


def _rate(parse: Callable[[str], object], texts: list[str]) -> tuple[float, float]:
    started = time.perf_counter()
    for t in texts:
        parse(t)
    seconds = time.perf_counter() - started
    return seconds, len(texts) / seconds


def parse_figures(messages: list[bytes]) -> None:
    from hl7apy.parser import parse_message

    from connectors.health.hl7v2_adt import parse_adt

    texts = [m.decode() for m in messages]
    sample = texts[: max(200, len(texts) // 10)]  # hl7apy is slow: a tenth of them
    before_s, before = _rate(parse_message, sample)
    fields_s, fields = _rate(_hl7apy_needed_fields, sample)
    after_s, after = _rate(lambda t: parse_adt(t.encode(), "bench"), texts)
    print("HL7 parse of the same messages, one core")
    print(f"{'parse':52} {'messages':>8} {'seconds':>8} {'messages/s':>11}")
    rows = [
        ("before: hl7apy parse_message (default)", len(sample), before_s, before),
        ("hl7apy parse_field on the needed fields (until now)", len(sample), fields_s, fields),
        ("after: parse_adt (needed fields from the ER7)", len(texts), after_s, after),
    ]
    for label, count, seconds, rate in rows:
        print(f"{label:52} {count:>8} {seconds:>8.2f} {rate:>11.0f}")
    print(f"after / before: {after / before:.0f} times as many messages a second")


def staging_figure(sealed: Path, count: int) -> None:
    from gateway.pipeline.staging import StagedCounts, stage_items

    warm = sealed.with_name("warm.hl7")  # a few other messages: GX's start-up is not the work
    warm.write_bytes(b"".join(b"\x0b" + message(n) + b"\x1c\r" for n in range(-20, 0)))
    list(stage_items("health__hl7v2_adt", warm, "warm", datetime.now(UTC)))
    counts = StagedCounts("bench")
    started = time.perf_counter()
    for _ in stage_items("health__hl7v2_adt", sealed, "bench", datetime.now(UTC), counts):
        pass
    seconds = time.perf_counter() - started
    print(
        f"staging (parse, map, validate) of the sealed batch: {counts.received} messages "
        f"({sealed.stat().st_size / 1024:.0f} KiB), {counts.accepted} accepted, "
        f"{seconds:.2f} s, {counts.received / seconds:.0f} messages/s"
    )
    assert counts.received == count


def main() -> None:
    count = int(os.environ.get("BENCH_MLLP_MESSAGES", "3000"))
    senders = int(os.environ.get("BENCH_MLLP_SENDERS", "4"))
    messages = [message(n) for n in range(count)]
    with temporary_gateway(), tempfile.TemporaryDirectory() as folder:
        sealed = listener_figures(Path(folder), messages, senders)
        parse_figures(messages)
        staging_figure(sealed, count)


if __name__ == "__main__":
    main()
