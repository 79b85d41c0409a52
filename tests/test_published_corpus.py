"""Every published file in tests/samples_extra meets its pinned outcome: how many records come
out, how many items are held (quarantined or rejected) and why, and what is counted as not read.

The outcomes live in tests/golden/samples_extra.outcomes.json, one entry per file, reviewed as
text; regenerate with ``UPDATE_GOLDEN=1 pytest tests/test_published_corpus.py`` and read the
diff. Each file is read by the source its folder names, the way a drop folder would.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.registry import CONNECTORS
from gateway.pipeline.staging import stage_items

EXTRA = Path(os.environ.get("EHE_SAMPLES_EXTRA", Path(__file__).parent / "samples_extra"))
GOLDEN = Path(__file__).parent / "golden" / "samples_extra.outcomes.json"
RECEIVED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
SOURCE_OF_FOLDER = {
    "fhir": "health__fhir_patient",
    "social-care/ssda903": "social_care__ssda903",
    "social-care/cin": "social_care__cin_census",
}
# Reasons that name the item's own problem: kept whole in the outcome. Other reasons are
# expectations of the suite, named by their rule.
SPOKEN_RULES = {"unreadable", "mapping_failed"}


def _corpus() -> list[tuple[str, str]]:
    found = []
    for path in sorted(p for p in EXTRA.rglob("*") if p.is_file() and p.name != "MANIFEST.md"):
        relative = path.relative_to(EXTRA).as_posix()
        source = next(s for folder, s in SOURCE_OF_FOLDER.items() if relative.startswith(folder))
        found.append((source, relative))
    return found


CORPUS = _corpus()


def _outcome(source: str, path: Path) -> dict[str, Any]:
    held: Counter[str] = Counter()
    records = 0
    for line in stage_items(source, path, "corpus", RECEIVED):
        if line["kind"] == "record":
            records += 1
        elif line["kind"] == "held":
            reasons = sorted(
                {
                    f"{r['rule']}: {r['explain']}" if r["rule"] in SPOKEN_RULES else r["rule"]
                    for r in line["reasons"]
                }
            )
            held[f"{line['status']} ({'; '.join(reasons)})"] += 1
    connector = CONNECTORS[source]({"path": str(path)})
    received = sum(1 for _ in connector.read(path))
    return {
        "source": source,
        "received": received,
        "records": records,
        "held": dict(sorted(held.items())),
        "not_read": dict(sorted(connector.not_read.items())),
    }


@pytest.fixture(scope="module")
def pinned() -> dict[str, Any]:
    if os.environ.get("UPDATE_GOLDEN") == "1":
        return {}
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def refreshed() -> Any:
    """Outcomes gathered while regenerating; written once the module's tests are done."""
    gathered: dict[str, Any] = {}
    yield gathered
    if os.environ.get("UPDATE_GOLDEN") == "1" and gathered:
        # Merged into what is pinned, so a run of some files (``-k``, a worker) keeps the rest.
        present = {relative for _source, relative in CORPUS}
        kept = json.loads(GOLDEN.read_text(encoding="utf-8")) if GOLDEN.exists() else {}
        merged = {k: v for k, v in kept.items() if k in present} | gathered
        text = json.dumps(dict(sorted(merged.items())), indent=2, sort_keys=True)
        GOLDEN.write_text(text + "\n", encoding="utf-8")


def test_corpus_is_there_and_large_enough() -> None:
    assert EXTRA.is_dir(), f"no corpus at {EXTRA} (set EHE_SAMPLES_EXTRA)"
    assert len(CORPUS) >= 50


@pytest.mark.parametrize(("source", "relative"), CORPUS, ids=[c[1] for c in CORPUS])
def test_published_file_meets_its_pinned_outcome(
    source: str, relative: str, pinned: dict[str, Any], refreshed: dict[str, Any]
) -> None:
    outcome = _outcome(source, EXTRA / relative)
    # Everything read is accounted for: each item received is a record or held.
    assert outcome["received"] == outcome["records"] + sum(outcome["held"].values())
    if os.environ.get("UPDATE_GOLDEN") == "1":
        refreshed[relative] = outcome
        return
    assert relative in pinned, f"{relative}: no pinned outcome (run with UPDATE_GOLDEN=1)"
    assert outcome == pinned[relative]


def test_every_file_is_in_the_manifest_with_its_origin() -> None:
    """A file copied in without its origin and licence recorded fails here."""
    manifest = (EXTRA / "MANIFEST.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| (\S+) \| \d+ \| [0-9a-f]{16} \|$", manifest, re.MULTILINE))
    assert listed == {Path(relative).name for _source, relative in CORPUS}
    assert manifest.count("- Licence:") == manifest.count("- Source:") == 4


def test_every_pinned_file_is_still_there(pinned: dict[str, Any]) -> None:
    if os.environ.get("UPDATE_GOLDEN") == "1":
        pytest.skip("regenerating the pinned outcomes")
    assert set(pinned) == {relative for _source, relative in CORPUS}
