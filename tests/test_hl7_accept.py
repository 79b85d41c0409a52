"""Which HL7 v2 messages are taken, on both ways in: the drop folder and the MLLP listener.

One acceptance rule (``connectors.health.hl7v2_accept.accept``): versions 2.3 to 2.8, every ADT
trigger event classified, non-ADT messages refused with the same reason on both paths, byte
order marks handled; and every published sample pinned to its outcome.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from pathlib import Path

from hl7apy import SUPPORTED_LIBRARIES
from sqlalchemy import select
from test_mllp import listener

from connectors.base import Extracted
from connectors.health.hl7v2_accept import (
    ADT_EVENTS,
    NOT_PATIENT_EVENTS,
    SUPPORTED_VERSIONS,
    EventClass,
)
from connectors.health.hl7v2_adt import Hl7AdtConnector
from gateway.mllp.client import MllpClient, ack_fields
from gateway.pipeline import ingest
from gateway.pipeline.staging import StagedCounts, stage_items
from gateway.store.engine import session_factory
from gateway.store.tables import SourceRecord

RECEIVED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def message(
    control: str,
    trigger: str = "A28",
    *,
    message_type: str = "ADT",
    version: str = "2.4",
    local_id: str = "L1",
    mrg: str | None = None,
    other_pid: str | None = None,
) -> bytes:
    """A message with a child's PID; ``mrg``: MRG-1; ``other_pid``: a second PID's PID-3."""
    segments = [
        f"MSH|^~\\&|PAS|RCB|EHEGW|LA815|20261101090000||{message_type}^{trigger}|{control}|P"
        f"|{version}",
        f"EVN|{trigger}|20261101085900",
        f"PID|1||{local_id}^^^RCB^PI||TESTFAMILY^AMY||20150304|F",
    ]
    if mrg is not None:
        segments.append(f"MRG|{mrg}")
    if other_pid is not None:
        segments.append(f"PID|2||{other_pid}||TESTFAMILY^BEN||20160405|M")
    return "\r".join(segments).encode()


def read_file(tmp_path: Path, data: bytes, name: str = "feed.hl7") -> list[Extracted]:
    path = tmp_path / name
    path.write_bytes(data)
    return list(Hl7AdtConnector({"path": str(path)}).read(path))


# -- the classification ----------------------------------------------------------------------


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def test_the_versions_are_every_one_hl7apy_knows_from_2_3_to_2_8() -> None:
    known = [v for v in SUPPORTED_LIBRARIES if (2, 3) <= _version_key(v) < (2, 9)]
    assert list(SUPPORTED_VERSIONS) == sorted(known, key=_version_key)


def test_every_adt_trigger_event_of_hl7_table_0003_is_classified_or_refused_by_name() -> None:
    """Every A-event of table 0003 in hl7apy's tables for v2.3.1 to v2.8.2 (v2.3 has none)."""
    events: set[str] = set()
    for version in SUPPORTED_VERSIONS[1:]:
        tables = importlib.import_module(f"{SUPPORTED_LIBRARIES[version]}.tables").TABLES
        events |= {code for code in tables["HL70003"][1] if code.startswith("A")}
    assert events == set(ADT_EVENTS) | set(NOT_PATIENT_EVENTS)
    assert not set(ADT_EVENTS) & set(NOT_PATIENT_EVENTS)


def test_the_classes_say_what_each_event_is() -> None:
    def of(kind: EventClass) -> set[str]:
        return {event for event, cls in ADT_EVENTS.items() if cls is kind}

    assert {"A01", "A03", "A04"} <= of(EventClass.CONTACT)  # real contacts
    assert {"A05", "A08", "A28", "A31"} <= of(EventClass.UPDATE)  # administrative, not contacts
    assert {"A34", "A35", "A36", "A39", "A40", "A41", "A42", "A47"} <= of(EventClass.MERGE)
    assert of(EventClass.LINK) == {"A24"} and of(EventClass.UNLINK) == {"A37"}
    assert of(EventClass.MOVE) == {"A43", "A44", "A45"}
    assert {"A11", "A12", "A13", "A27", "A38"} <= of(EventClass.CANCEL)


# -- the same answer on both paths -----------------------------------------------------------

ACCEPTED = [  # trigger, class, what the message must carry beyond PID-3
    ("A01", "contact", {}),
    ("A08", "update", {}),
    ("A11", "cancel", {}),
    ("A40", "merge", {"mrg": "OLD1^^^RCB^PI"}),
    ("A44", "move", {"mrg": "OLD1^^^RCB^PI"}),
    ("A24", "link", {"other_pid": "L2^^^RCB^PI"}),
    ("A37", "unlink", {"other_pid": "L2^^^RCB^PI"}),
]


def test_every_version_and_class_is_taken_by_file_and_by_mllp(tmp_path: Path) -> None:
    messages = [
        message(f"V{v}-{trigger}", trigger, version=v, **extra)
        for v in SUPPORTED_VERSIONS
        for trigger, _, extra in ACCEPTED
    ]
    items = read_file(tmp_path, b"\r\n".join(messages))
    classes = [cls for _ in SUPPORTED_VERSIONS for _, cls, _ in ACCEPTED]
    assert [i.record["event_class"] if i.record else i.error for i in items] == classes
    with listener(tmp_path / "mllp") as (port, _), MllpClient("127.0.0.1", port) as client:
        assert {ack_fields(client.send(m))[0] for m in messages} == {"AA"}


VXU = (  # an immunisation update (VXU^V04): no ADT, refused on both paths
    b"MSH|^~\\&|IMMS|RCB|EHEGW|LA815|20261101090000||VXU^V04^VXU_V04|X-1|P|2.5.1\r"
    b"PID|1||L1^^^RCB^PI||TESTFAMILY^AMY||20150304|F\r"
    b"RXA|0|1|20261101|20261101|08^HEPB-PEDIATRIC^CVX|999"
)
REFUSED = [  # what, message, ACK code, HL7 table 0357 condition, reason (the same on both paths)
    ("VXU^V04", VXU, "AR", 200, "message type VXU not supported (ADT is)"),
    (
        "ORU^R01",
        message("X-2", "R01", message_type="ORU"),
        "AR",
        200,
        "message type ORU not supported (ADT is)",
    ),
    ("ADT^A19", message("X-3", "A19"), "AR", 201, NOT_PATIENT_EVENTS["A19"]),
    ("ADT^A20", message("X-4", "A20"), "AR", 201, NOT_PATIENT_EVENTS["A20"]),
    (
        "ADT^A99",
        message("X-5", "A99"),
        "AR",
        201,
        "ADT trigger event A99 not supported (A01 to A62 are)",
    ),
    (
        "no trigger",
        message("X-6", "A01").replace(b"ADT^A01", b"ADT").replace(b"EVN|A01", b"EVN|"),
        "AR",
        101,
        "ADT message without a trigger event (MSH-9.2)",
    ),
    (
        "v2.2",
        message("X-7", version="2.2"),
        "AR",
        203,
        "HL7 version not supported (2.3 to 2.8 are)",
    ),
    (
        "v2.9",
        message("X-8", version="2.9"),
        "AR",
        203,
        "HL7 version not supported (2.3 to 2.8 are)",
    ),
    (
        "A35 without MRG",
        message("X-9", "A35"),
        "AE",
        101,
        "A35 merge without MRG-1 (the prior patient identifiers)",
    ),
    (
        "A44 without MRG-1",
        message("X-10", "A44", mrg=""),
        "AE",
        101,
        "A44 move without MRG-1 (the prior patient identifiers)",
    ),
    (
        "A24 with one PID",
        message("X-11", "A24"),
        "AE",
        101,
        "A24 link without a second PID with PID-3 (the other patient)",
    ),
    (
        "A37, second PID without PID-3",
        message("X-12", "A37", other_pid=""),
        "AE",
        101,
        "A37 unlink without a second PID with PID-3 (the other patient)",
    ),
]


def test_messages_not_taken_are_refused_with_the_same_reason_by_file_and_by_mllp(
    tmp_path: Path,
) -> None:
    items = read_file(tmp_path, b"\n".join(m for _, m, _, _, _ in REFUSED))
    assert [(i.record, i.error) for i in items] == [(None, r) for *_, r in REFUSED]
    with listener(tmp_path / "mllp") as (port, store), MllpClient("127.0.0.1", port) as client:
        acks = [client.send(m) for _, m, _, _, _ in REFUSED]
    for (what, _, code, condition, reason), ack in zip(REFUSED, acks, strict=True):
        assert ack_fields(ack)[0::2] == (code, reason), what
        assert f"|{condition}^" in ack.decode() or f"^{condition}&" in ack.decode(), what
        assert "TESTFAMILY" not in ack.decode()
    assert len(store.errors()) == len(REFUSED)


def test_only_a_merge_of_patient_identifiers_retires_the_record_in_mrg(tmp_path: Path) -> None:
    """A40 retires MRG-1's record into the PID's; an account merge (A35), an account move (A44)
    and a visit merge (A42) name the same patient's or another patient's ids and retire none."""
    path = tmp_path / "merges.hl7"
    path.write_bytes(
        b"\r".join(
            [
                message("M-1", "A40", local_id="KEEP1", mrg="OLD1^^^RCB^PI"),
                message("M-2", "A35", local_id="KEEP2", mrg="KEEP2^^^RCB^PI"),
                message("M-3", "A44", local_id="KEEP3", mrg="OTHER3^^^RCB^PI"),
                message("M-4", "A42", local_id="KEEP4", mrg="KEEP4^^^RCB^PI"),
            ]
        )
    )
    lines = [
        line
        for line in stage_items("health__hl7v2_adt", path, "merges", RECEIVED)
        if line["kind"] == "record"
    ]
    assert [(line["item_key"], line.get("retires")) for line in lines] == [
        ("merges.hl7 message 1", "OLD1"),
        ("merges.hl7 message 2", None),
        ("merges.hl7 message 3", None),
        ("merges.hl7 message 4", None),
    ]


def test_each_patient_group_of_a_published_a40_is_one_merge(samples: Path) -> None:
    """ADT-A40-02 (Ntierprise, v2.8) merges two patients in one message: two PID/MRG groups.
    Each group is an item of its own with the message's header, each retires its own MRG-1,
    and the count from MSH and PID segments says two."""
    path = samples / "hl7v2" / "ms-fhir-converter" / "ADT-A40-02.hl7"
    connector = Hl7AdtConnector({"path": str(path)})
    assert connector.count_records(path) == 2
    lines = [
        line
        for line in stage_items("health__hl7v2_adt", path, "a40", RECEIVED)
        if line["kind"] == "record"
    ]
    assert [
        (line["item_key"], line["record"]["provenance"]["record_id"], line.get("retires"))
        for line in lines
    ] == [
        ("ADT-A40-02.hl7 message 1 patient group 1", "12345", "56789"),
        ("ADT-A40-02.hl7 message 1 patient group 2", "145", "569"),
    ]


def test_a_two_patient_a40_over_mllp_is_acked_once_and_loads_both(
    tmp_path: Path, samples: Path, index_url: str
) -> None:
    data = (samples / "hl7v2" / "ms-fhir-converter" / "ADT-A40-02.hl7").read_bytes()
    with listener(tmp_path / "mllp") as (port, _), MllpClient("127.0.0.1", port) as client:
        assert ack_fields(client.send(data))[:2] == ("AA", "8919-40")
    (batch,) = ingest(
        "health__hl7v2_adt", path=str(tmp_path / "mllp" / "sealed"), index_url=index_url
    )
    assert (batch.received, batch.loaded, batch.quarantined, batch.rejected) == (2, 2, 0, 0)
    with session_factory(index_url)() as session:
        ids = session.scalars(
            select(SourceRecord.record_id).where(SourceRecord.source == "health__hl7v2_adt")
        ).all()
    assert sorted(ids) == ["12345", "145"]


def test_every_patient_group_is_accounted_for_taken_or_refused(tmp_path: Path) -> None:
    """A group without MRG-1 is rejected on its own while the others load; a message refused
    whole (here its version) is one rejected item per group; a link (A24, two PIDs) stays one
    item. The count from MSH and PID segments agrees each time."""

    def groups(*ids: str, mrg: bool = True) -> bytes:
        return b"".join(
            f"\rPID|{n}||{i}^^^RCB^PI||TESTFAMILY^AMY||20150304|F".encode()
            + (f"\rMRG|OLD{i}^^^RCB^PI".encode() if mrg or n == 1 else b"")
            for n, i in enumerate(ids, start=1)
        )

    cases = {
        "partly.hl7": message("G-1", "A40", local_id="K1", mrg="OLD1^^^RCB^PI")
        + groups("K2", "K3", mrg=False),
        "version.hl7": message("G-2", "A47", version="2.2", local_id="K1", mrg="OLD1")
        + groups("K2", "K3"),
        "link.hl7": message("G-3", "A24", local_id="K1", other_pid="K2^^^RCB^PI"),
    }
    read = {}
    for name, data in cases.items():
        items = read_file(tmp_path, data, name)
        assert Hl7AdtConnector({"path": str(tmp_path)}).count_records(tmp_path / name) == len(items)
        read[name] = [(i.position.split("message 1")[1], i.error) for i in items]
    missing = "patient group 3: A40 merge without MRG-1 (the prior patient identifiers)"
    refused = "HL7 version not supported (2.3 to 2.8 are)"
    kept = f"{refused} (the message is kept with version.hl7 message 1 patient group 1)"
    assert read == {
        "partly.hl7": [
            (" patient group 1", None),
            (" patient group 2", None),
            (" patient group 3", missing),
        ],
        "version.hl7": [
            (" patient group 1", refused),
            (" patient group 2", kept),
            (" patient group 3", kept),
        ],
        "link.hl7": [("", None)],
    }


# -- byte order marks ------------------------------------------------------------------------


def test_a_byte_order_mark_before_any_message_is_dropped(tmp_path: Path) -> None:
    bom = b"\xef\xbb\xbf"
    data = bom + message("B-1") + b"\r\n" + bom + message("B-2", local_id="L2") + b"\r\n"
    items = read_file(tmp_path, data)
    assert [i.record["MSH-10"] if i.record else i.error for i in items] == [[["B-1"]], [["B-2"]]]
    with listener(tmp_path / "mllp") as (port, _), MllpClient("127.0.0.1", port) as client:
        assert ack_fields(client.send(bom + message("B-3")))[:2] == ("AA", "B-3")


def test_a_utf16_file_reads_as_its_utf8_twin(tmp_path: Path) -> None:
    text = (message("U-1") + b"\r\n" + message("U-2", local_id="L2")).decode()
    utf8 = read_file(tmp_path, text.encode(), "utf8.hl7")
    for codec in ("utf-16", "utf-16-be"):
        data = text.encode(codec)
        if codec == "utf-16-be":
            data = b"\xfe\xff" + data
        assert [i.record for i in read_file(tmp_path, data, f"{codec}.hl7")] == [
            i.record for i in utf8
        ]
    (broken,) = read_file(tmp_path, b"\xff\xfe\x00\xd8", "broken.hl7")
    assert broken.error == "not UTF-16 at byte 2"


# -- the published samples, pinned -----------------------------------------------------------

# file: (event class, staged outcome: "loaded" or the rule that holds it; one per patient group)
SAMPLES: dict[str, tuple[str, str | tuple[str, ...]]] = {
    "ms-fhir-converter/ADT-A01-01.hl7": ("contact", "birth_date_plausible"),
    "ms-fhir-converter/ADT-A04-01.hl7": ("contact", "birth_date_plausible"),
    "ms-fhir-converter/ADT-A08-01.hl7": ("update", "birth_date_plausible"),
    "ms-fhir-converter/ADT-A28-01.hl7": ("update", "birth_date_plausible"),
    "ms-fhir-converter/ADT-A31-01.hl7": ("update", "birth_date_plausible"),
    "ms-fhir-converter/ADT-A40-01.hl7": ("merge", "loaded"),
    "ms-fhir-converter/ADT-A40-02.hl7": ("merge", ("loaded", "loaded")),  # two patient groups
    "ms-fhir-converter/ADT01-23.hl7": ("contact", "birth_date_plausible"),
    "ms-fhir-converter/ADT01-28.hl7": ("contact", "birth_date_plausible"),
    "ms-fhir-converter/ADT04-23.hl7": ("contact", "birth_date_plausible"),
    "ms-fhir-converter/ADT04-251.hl7": ("contact", "birth_date_plausible"),
    "ms-fhir-converter/ADT04-28.hl7": ("contact", "loaded"),
    "nhs-itk-v2.4/ITK_ADT_A01_example.hl7": ("contact", "birth_date_plausible"),
    "nhs-itk-v2.4/ITK_ADT_A03_example.hl7": ("contact", "birth_date_plausible"),
    "nhs-itk-v2.4/ITK_ADT_A04_example.hl7": ("contact", "birth_date_plausible"),
    "nhs-itk-v2.4/ITK_ADT_A05_Example.hl7": ("update", "birth_date_plausible"),
    "nhs-itk-v2.4/ITK_ADT_A08_example.hl7": ("update", "birth_date_plausible"),
    "nhs-itk-v2.4/ITK_ADT_A28_Example.hl7": ("update", "hl7_birth_date_is_a_real_date"),
    "nhs-itk-v2.4/ITK_ADT_A31_example.hl7": ("update", "hl7_birth_date_is_a_real_date"),
    "nhs-itk-v2.4/ITK_ADT_A40_Example.hl7": ("merge", "birth_date_plausible"),
}


def test_every_published_sample_is_read_and_staged_as_pinned(samples: Path) -> None:
    """v2.3 to v2.8, with and without BOMs, LF or CR: each one message with its class; the adults
    and the month-13 birth dates are held with the rule's name, the children load."""
    assert sorted(str(p.relative_to(samples / "hl7v2")) for p in samples.rglob("*.hl7")) == sorted(
        SAMPLES
    )
    for name, (event_class, outcome) in SAMPLES.items():
        path = samples / "hl7v2" / name
        outcomes = outcome if isinstance(outcome, tuple) else (outcome,)
        connector = Hl7AdtConnector({"path": str(path)})
        items = list(connector.read(path))
        assert len(items) == len(outcomes) == connector.count_records(path), name
        for item in items:
            assert item.record is not None and item.record["event_class"] == event_class, name
        counts = StagedCounts("pinned")
        lines = list(stage_items("health__hl7v2_adt", path, "pinned", RECEIVED, counts))
        got = tuple(
            "loaded" if line["kind"] == "record" else line["reasons"][0]["rule"]
            for line in lines
            if line["kind"] in ("record", "held")
        )
        assert (counts.received, got) == (len(outcomes), outcomes), name


def test_every_published_sample_is_acked_aa_by_a_listener_of_its_own(
    tmp_path: Path, samples: Path
) -> None:
    for number, name in enumerate(SAMPLES):
        data = (samples / "hl7v2" / name).read_bytes()  # as published: BOMs, LF line ends
        with listener(tmp_path / str(number)) as (port, _), MllpClient("127.0.0.1", port) as c:
            assert ack_fields(c.send(data))[0] == "AA", name


def test_published_samples_that_reuse_a_control_id_are_answered_ae_on_one_listener(
    tmp_path: Path, samples: Path
) -> None:
    """The samples reuse control ids: five GHH messages are all MSG00001 from one sender, the two
    Ntierprise merges are both 8919-40, the two Redox messages both 1270326314. On one listener
    the first of each is stored and the others, with other content, are answered AE."""
    with listener(tmp_path) as (port, store), MllpClient("127.0.0.1", port) as client:
        answers = {
            name: ack_fields(client.send((samples / "hl7v2" / name).read_bytes()))[0]
            for name in SAMPLES
        }
    conflicts = {
        "ms-fhir-converter/ADT-A04-01.hl7",
        "ms-fhir-converter/ADT-A08-01.hl7",
        "ms-fhir-converter/ADT-A28-01.hl7",
        "ms-fhir-converter/ADT-A31-01.hl7",
        "ms-fhir-converter/ADT-A40-02.hl7",
        "ms-fhir-converter/ADT04-28.hl7",
    }
    assert answers == {name: "AE" if name in conflicts else "AA" for name in SAMPLES}
    assert len(store.errors()) == len(conflicts)
