"""The figures of the validation report, read from the index: counts and reasons, never values.

Per source and per run (one run = one batch): records received, checked, loaded, held; the pass
rate of every expectation; held records by reason and by what became of them; the decisions
reviewers took (from the audit log).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import config
from gateway.pipeline.staging import RECORD_COUNT_RULE
from gateway.store.batch_status import HELD_WHOLE
from gateway.store.tables import AuditEntry, Batch, HeldRecord, ValidationRun

DECISIONS = ("quarantine_release", "quarantine_reject")
GATE_SHARE_RULE = "held_share_within_limit"


@dataclass
class RunLine:
    """One run of one source: the batch and what became of its records (a batch held whole by
    a gate counts all its records as gated; one not yet loaded, as pending; what the file held
    that is not a record of the stream, by kind, as not read)."""

    batch_id: str
    received_at: datetime
    status: str
    received: int
    checked: int
    loaded: int
    quarantined: int
    rejected: int
    warnings: int
    gated: int = 0
    pending: int = 0
    not_read: int = 0
    not_read_kinds: dict[str, int] = field(default_factory=dict)
    gates_failed: list[str] = field(default_factory=list)

    @property
    def held_whole(self) -> bool:
        return self.status in HELD_WHOLE

    @property
    def loaded_share(self) -> float:
        return self.loaded / self.received if self.received else 1.0


@dataclass
class RuleLine:
    """One expectation, summed over the runs of a source."""

    suite: str
    rule: str
    severity: str
    explain: str
    checked: int = 0
    failed: int = 0
    gate: bool = False

    @property
    def pass_rate(self) -> float:
        return 1 - self.failed / self.checked if self.checked else 1.0


@dataclass
class ReasonLine:
    reason: str
    quarantined: int = 0
    rejected: int = 0
    released: int = 0


@dataclass
class SourceSection:
    source: str
    runs: list[RunLine] = field(default_factory=list)
    rules: list[RuleLine] = field(default_factory=list)
    reasons: list[ReasonLine] = field(default_factory=list)

    @property
    def latest(self) -> RunLine:
        return self.runs[-1]

    def total(self, name: str) -> int:
        return sum(int(getattr(run, name)) for run in self.runs)


@dataclass
class Decision:
    at: datetime
    who: str
    role: str
    action: str
    target: str


@dataclass
class ValidationReport:
    generated_at: datetime
    sources: list[SourceSection]
    decisions: list[Decision]

    def total(self, name: str) -> int:
        return sum(s.total(name) for s in self.sources)


def explanations() -> dict[tuple[str, str], tuple[str, str]]:
    """(suite, rule) -> (plain-English explanation, severity), from the committed suites."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for path in sorted(config.EXPECTATIONS_DIR.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        for item in document.get("expectations", []):
            meta = item.get("meta") or {}
            if "rule" in meta:
                found[(document["name"], meta["rule"])] = (
                    meta.get("explain", ""),
                    item.get("severity", "critical"),
                )
        gate = (document.get("meta") or {}).get("row_count_gate")
        if gate:
            found[(document["name"], "row_count_near_last_run")] = (gate["explain"], "critical")
    found[("canonical_child", RECORD_COUNT_RULE)] = (
        "Every record counted in the delivery (by its tags or rows) must be loaded, held back or "
        "rejected; if the counts differ a record may have gone missing, and the whole delivery "
        "is stopped.",
        "critical",
    )
    return found


def build_report(session: Session, now: datetime) -> ValidationReport:
    explain = explanations()
    sections: dict[str, SourceSection] = {}
    runs = {r.batch_id: r for r in session.scalars(select(ValidationRun))}
    batches = session.scalars(
        select(Batch).order_by(Batch.source, Batch.received_at, Batch.batch_id)
    )
    rules: dict[str, dict[tuple[str, str], RuleLine]] = defaultdict(dict)
    for batch in batches:
        section = sections.setdefault(batch.source, SourceSection(batch.source))
        run = runs.get(batch.batch_id)
        summary: list[dict[str, Any]] = list(run.summary) if run else []
        section.runs.append(_run_line(batch, run, summary))
        for entry in summary:
            _add_rule(rules[batch.source], entry, explain)
    for source, section in sections.items():
        section.rules = sorted(rules[source].values(), key=lambda r: (r.pass_rate, r.rule))
        section.reasons = _reasons(session, source, explain)
    return ValidationReport(now, [sections[s] for s in sorted(sections)], _decisions(session))


def _run_line(batch: Batch, run: ValidationRun | None, summary: list[dict[str, Any]]) -> RunLine:
    gates = [str(e["rule"]) for e in summary if e.get("gate") and e.get("failed")]
    if batch.status in HELD_WHOLE and not gates:
        gates = [GATE_SHARE_RULE]
    return RunLine(
        batch_id=batch.batch_id,
        received_at=batch.received_at,
        status=batch.status,
        received=batch.received,
        checked=run.records_checked if run else 0,
        loaded=batch.loaded,
        quarantined=batch.quarantined,
        rejected=batch.rejected,
        warnings=sum(
            int(e["failed"]) for e in summary if e["severity"] != "critical" and not e.get("gate")
        ),
        gated=batch.gated,
        pending=batch.pending,
        not_read=batch.not_read,
        not_read_kinds=dict(sorted((batch.not_read_kinds or {}).items())),
        gates_failed=gates,
    )


def _add_rule(
    rules: dict[tuple[str, str], RuleLine],
    entry: dict[str, Any],
    explain: dict[tuple[str, str], tuple[str, str]],
) -> None:
    key = (str(entry.get("suite", "canonical_child")), str(entry["rule"]))
    text, _severity = explain.get(key, ("", entry["severity"]))
    line = rules.setdefault(
        key, RuleLine(key[0], key[1], str(entry["severity"]), text, gate=bool(entry.get("gate")))
    )
    line.checked += int(entry["checked"])
    line.failed += int(entry["failed"])


def reason_label(reason: dict[str, Any], explain: dict[tuple[str, str], tuple[str, str]]) -> str:
    """A held item's reason in plain words: the rule's explanation, never the failing values."""
    stage = reason.get("stage")
    if stage == "validation":
        for (_suite, rule), (text, _severity) in explain.items():
            if rule == reason.get("rule") and text:
                return text
        return str(reason.get("rule"))
    if stage == "connector":
        return "The item could not be read at all (damaged or incomplete file content)."
    if stage == "review":
        return "A reviewer decided not to load it."
    return f"A field could not be mapped: {reason.get('explain')}."


def _reasons(
    session: Session, source: str, explain: dict[tuple[str, str], tuple[str, str]]
) -> list[ReasonLine]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    rows = session.execute(
        select(HeldRecord.status, HeldRecord.reasons).where(HeldRecord.source == source)
    )
    for status, reasons in rows:
        for reason in reasons:
            if reason.get("stage") == "review":
                continue
            counts[reason_label(reason, explain)][status] += 1
    lines = [
        ReasonLine(label, c["quarantined"], c["rejected"], c["released"])
        for label, c in counts.items()
    ]
    return sorted(lines, key=lambda r: -(r.quarantined + r.rejected + r.released))


def _decisions(session: Session) -> list[Decision]:
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.action.in_(DECISIONS)).order_by(AuditEntry.seq)
    )
    return [
        Decision(
            at=e.at,
            who=e.actor,
            role=e.role,
            action="released after a fix" if e.action == "quarantine_release" else "rejected",
            target=", ".join([*e.fields_disclosed, *e.fields_refused]),
        )
        for e in entries
    ]
