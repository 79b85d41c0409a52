"""Evaluate the production linkage on any labelled file of person records.

``evaluate_file`` reads the records (CSV or Parquet; a published set's own column names mapped
to ours with ``columns``), trains a model on them exactly as ``linkage train`` does (into a
throw-away folder, so the index's models are untouched), resolves them exactly as
``link_children`` does, writes each record's child id, and measures the result against the
labels: pairwise precision, recall and F1, children caught in a false merge, children split.
``blocking_recall`` measures the blocking rules alone: the share of true pairs they let through
(pairs completeness) and the pairs compared per record. ``evaluate_beside_generic`` runs ours
and Splink's generic model on the same columns in the same run.
"""

from __future__ import annotations

import csv
import functools
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gateway.errors import FatalConfigError
from gateway.identifiers import (
    compact_nhs_number,
    compact_upn,
    is_valid_nhs_number,
    is_valid_upn,
    normalise_postcode,
)
from gateway.linkage.clustering import LinkCandidate
from gateway.linkage.probabilistic import FIELDS, LOWER, PersonRow, train_model
from gateway.linkage.publish import child_id_for
from gateway.linkage.resolution import resolve
from gateway.linkage.spec import Compared, blocking_keys_of

# The file layout: a record's key, then exactly the fields the production model compares.
COLUMNS = ("record_id", "source", *FIELDS)
DEFAULT_SOURCE = "file"
Key = tuple[str, str]


@dataclass(frozen=True)
class LabelledRecords:
    candidates: list[LinkCandidate]
    people: list[PersonRow]
    labels: dict[Key, str]


@dataclass(frozen=True)
class Quality:
    """Pairwise quality of a clustering against the truth."""

    records: int
    true_children: int
    predicted_children: int
    precision: float
    recall: float
    f1: float
    children_in_false_merges: int
    children_split: int
    # The model alone: every pair it scores at or above the review threshold joined, with no
    # identifier rules, corroboration or twin guard (what the model separates, not the policy).
    model_alone: Quality | None = None

    def lines(self) -> list[str]:
        share = self.children_in_false_merges / self.true_children if self.true_children else 0
        out = [
            f"records {self.records}: {self.true_children} true children, "
            f"{self.predicted_children} found",
            f"pairwise precision {self.precision:.4f}, recall {self.recall:.4f}, F1 {self.f1:.4f}",
            f"children in false merges {self.children_in_false_merges} ({share:.2%})",
            f"children split {self.children_split}",
        ]
        if self.model_alone is not None:
            alone = self.model_alone
            out.append(
                f"model alone (every pair at or above {LOWER} joined, no rules or guards): "
                f"precision {alone.precision:.4f}, recall {alone.recall:.4f}, F1 {alone.f1:.4f}"
            )
        return out


@dataclass(frozen=True)
class BlockingRecall:
    """What the blocking rules let through, against the truth."""

    records: int
    true_pairs: int
    true_pairs_compared: int
    comparisons: int
    true_pairs_connected: int = 0  # joined through a chain of compared true pairs
    named_true_pairs: int = 0  # true pairs both of whose records carry a name
    named_true_pairs_compared: int = 0
    # with a model: true pairs it scores at or above the review threshold (``LOWER``) when
    # weighed, compared or not, and how many of those blocking compares
    forward_true_pairs: int | None = None
    forward_true_pairs_compared: int = 0

    @property
    def named_completeness(self) -> float:
        """Pairs completeness where both records carry a name: a record with none (a census
        return) can only be met by an identifier, or through another record of the child."""
        if not self.named_true_pairs:
            return 1.0
        return self.named_true_pairs_compared / self.named_true_pairs

    @property
    def connected_completeness(self) -> float:
        return self.true_pairs_connected / self.true_pairs if self.true_pairs else 1.0

    @property
    def pairs_completeness(self) -> float:
        return self.true_pairs_compared / self.true_pairs if self.true_pairs else 1.0

    @property
    def comparisons_per_record(self) -> float:
        return self.comparisons / self.records if self.records else 0.0

    @property
    def forward_completeness(self) -> float | None:
        """Pairs completeness of the true pairs the model would put forward: a true pair it
        scores below review whether compared or not is not one blocking loses."""
        if self.forward_true_pairs is None:
            return None
        if not self.forward_true_pairs:
            return 1.0
        return self.forward_true_pairs_compared / self.forward_true_pairs

    def lines(self) -> list[str]:
        forward = (
            ""
            if self.forward_completeness is None
            else f"; {self.forward_completeness:.4f} of the {self.forward_true_pairs} the model "
            f"scores {LOWER} or more"
        )
        return [
            f"blocking: pairs completeness {self.pairs_completeness:.4f} "
            f"({self.true_pairs_compared} of {self.true_pairs} true pairs compared; "
            f"{self.connected_completeness:.4f} connected through compared true pairs; "
            f"{self.named_completeness:.4f} of the {self.named_true_pairs} where both records "
            f"carry a name{forward}), {self.comparisons_per_record:.1f} comparisons per record"
        ]


def blocking_recall(
    people: Sequence[PersonRow],
    labels: Mapping[Key, str],
    candidates: Sequence[LinkCandidate] | None = None,
    model: Path | None = None,
) -> BlockingRecall:
    """Pairs completeness and comparisons per record of the blocking rules on labelled
    records: the pairs two records sharing any rule's key (``spec.BLOCKING``, and with
    ``candidates`` the identifier rules' keys too: local ids, merges). A true pair not
    compared directly may still be connected through a chain of compared true pairs (a census
    record with no names meets the case record by its local id, that one the health record by
    name): the share so connected is what clustering can recover. With ``model``, every true
    pair is also weighed as linkage would weigh it, and the share compared of those scoring at
    or above review is what blocking costs the model."""
    from gateway.linkage.blocking import blocking_keys

    blocks: dict[str, list[int]] = defaultdict(list)
    for n, person in enumerate(people):
        keys = (
            blocking_keys(candidates[n], person)
            if candidates is not None
            else blocking_keys_of(person)
        )
        for key in keys:
            blocks[key].append(n)
    size = len(people)
    compared: set[int] = set()
    for members in blocks.values():
        for i, left in enumerate(members):
            compared.update(left * size + right for right in members[i + 1 :])
    label_of = [labels[person.key] for person in people]
    named = [bool(person.given_name or person.family_name) for person in people]
    true = [
        (left, right)
        for left, right in (divmod(pair, size) for pair in compared)
        if label_of[left] == label_of[right]
    ]
    true_compared = len(true)
    named_compared = sum(named[left] and named[right] for left, right in true)
    true_pairs = sum(n * (n - 1) // 2 for n in Counter(label_of).values())
    root = _components(size, true)
    parts = Counter((label_of[n], root[n]) for n in range(size))
    connected = sum(n * (n - 1) // 2 for n in parts.values())
    named_counts = Counter(label for label, has in zip(label_of, named, strict=True) if has)
    named_pairs = sum(n * (n - 1) // 2 for n in named_counts.values())
    recall = BlockingRecall(
        size, true_pairs, true_compared, len(compared), connected, named_pairs, named_compared
    )
    if model is None:
        return recall
    probability = _scorer(model)
    forward = [
        left * size + right
        for left, right in _true_pairs(label_of)
        if probability(people[left], people[right]) >= LOWER
    ]
    return replace(
        recall,
        forward_true_pairs=len(forward),
        forward_true_pairs_compared=sum(pair in compared for pair in forward),
    )


def _true_pairs(label_of: Sequence[str]) -> Iterable[tuple[int, int]]:
    members: dict[str, list[int]] = defaultdict(list)
    for n, label in enumerate(label_of):
        members[label].append(n)
    for group in members.values():
        for i, left in enumerate(group):
            yield from ((left, right) for right in group[i + 1 :])


def _scorer(model: Path) -> Callable[[PersonRow, PersonRow], float]:
    """A pair's probability as linkage scores it (the model's weights, in Python)."""
    from gateway.linkage.match_weights import weights_in

    weights = weights_in(model)
    return lambda a, b: weights.weigh(Compared.of(a), Compared.of(b)).probability


def read_labelled(
    path: Path, label_column: str, columns: Mapping[str, str] | None = None
) -> LabelledRecords:
    """Read person records and their labels; every problem with the file at once.

    ``columns`` maps our column names (``COLUMNS``) to the file's; a column of ours not
    mapped is read from the column of its own name, or left empty where the mapping is given
    and names no such column (a published set holds only some of our fields)."""
    rows, header = _rows(path)
    if columns is not None:
        rows = [
            {ours: row.get(columns.get(ours, ours)) or "" for ours in (*COLUMNS, label_column)}
            for row in rows
        ]
        header = [*COLUMNS, label_column]
        unknown = [theirs for theirs in columns.values() if theirs not in _rows(path)[1]]
        if unknown:
            raise FatalConfigError(f"{path.name}: no column(s) {', '.join(unknown)}")
    missing = [c for c in (*COLUMNS, label_column) if c not in header]
    if missing:
        raise FatalConfigError(f"{path.name}: missing column(s) {', '.join(missing)}")
    problems: list[str] = []
    seen: set[Key] = set()
    result = LabelledRecords([], [], {})
    for line, row in enumerate(rows, start=2):
        key = ((row["source"] or "").strip() or DEFAULT_SOURCE, (row["record_id"] or "").strip())
        label = (row[label_column] or "").strip()
        if not key[1] or not label or key in seen:
            what = "record_id" if not key[1] else "label" if not label else "a repeated record"
            problems.append(f"line {line}: {what}")
            continue
        seen.add(key)
        nhs, upn = _valid_nhs(row["nhs_number"]), _valid_upn(row["upn"])
        result.candidates.append(LinkCandidate(key[0], key[1], nhs, upn))
        result.people.append(_person(key, row, nhs, upn))
        result.labels[key] = label
    if problems:
        shown = "; ".join(problems[:10])
        raise FatalConfigError(f"{path.name}: {len(problems)} bad row(s): {shown}")
    return result


@functools.lru_cache(maxsize=4)
def _rows_cached(path: Path, modified: int) -> tuple[list[dict[str, str | None]], list[str]]:
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        table = pq.read_table(path)
        names = list(table.column_names)
        data = table.to_pydict()
        rows = [
            {name: None if data[name][n] is None else str(data[name][n]) for name in names}
            for n in range(table.num_rows)
        ]
        return rows, names
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        return list(reader), list(reader.fieldnames or [])


def _rows(path: Path) -> tuple[list[dict[str, str | None]], list[str]]:
    return _rows_cached(path, path.stat().st_mtime_ns)


def _person(key: Key, row: Mapping[str, str | None], nhs: str | None, upn: str | None) -> PersonRow:
    return PersonRow(
        key=key,
        given_name=_text(row["given_name"]),
        family_name=_text(row["family_name"]),
        birth_date=_text(row["birth_date"]),
        sex=_text(row["sex"]),
        postcode=normalise_postcode(_text(row["postcode"])),
        nhs_number=nhs,
        upn=upn,
        address=_text(row["address"]),
    )


def _text(value: str | None) -> str | None:
    return value.strip().lower() or None if value else None


def _valid_nhs(value: str | None) -> str | None:
    compact = compact_nhs_number(value) if value else None
    return compact if is_valid_nhs_number(compact) else None


def _valid_upn(value: str | None) -> str | None:
    compact = compact_upn(value) if value else None
    return compact if is_valid_upn(compact) else None


def evaluate_file(
    records: Path,
    label_column: str,
    clusters_out: Path,
    columns: Mapping[str, str] | None = None,
) -> Quality:
    """Train, resolve and measure on a labelled file; write ``record_id,child_id``."""
    data = read_labelled(records, label_column, columns)
    with tempfile.TemporaryDirectory(prefix="ehe-evaluate-") as folder:
        return _evaluate(data, clusters_out, None, Path(folder))[0]


@dataclass(frozen=True)
class Evaluation:
    """Ours and Splink's generic model on the same records, and our blocking's recall."""

    ours: Quality
    generic: Quality
    blocking: BlockingRecall

    def lines(self) -> list[str]:
        out = ["our model (rules + our comparisons and blocking):"]
        out += [f"  {line}" for line in self.ours.lines()]
        out += [f"  {line}" for line in self.blocking.lines()]
        out += ["Splink's generic model on the same columns (rules + its own blocking):"]
        out += [f"  {line}" for line in self.generic.lines()]
        return out


def evaluate_beside_generic(
    records: Path,
    label_column: str,
    clusters_out: Path,
    columns: Mapping[str, str] | None = None,
) -> Evaluation:
    """``evaluate_file`` with our model, then with Splink's generic comparisons and blocking
    on the same records (its clusters are not written)."""
    from gateway.linkage.probabilistic import generic_settings

    data = read_labelled(records, label_column, columns)
    with tempfile.TemporaryDirectory(prefix="ehe-evaluate-") as folder:
        ours, model = _evaluate(data, clusters_out, None, Path(folder) / "ours")
        blocking = blocking_recall(data.people, data.labels, model=model)
        generic = _evaluate(data, None, generic_settings(), Path(folder) / "generic")[0]
    return Evaluation(ours, generic, blocking)


def _evaluate(
    data: LabelledRecords, clusters_out: Path | None, settings: Any, folder: Path
) -> tuple[Quality, Path | None]:
    """The quality of linkage trained on ``data`` (the model kept in ``folder``)."""
    model = train_model(data.people, folder, settings) if len(data.people) > 1 else None
    resolution = resolve(data.candidates, data.people, model)
    assigned: dict[Key, str] = {}
    for cluster in resolution.clusters:
        child_id = child_id_for(cluster)
        assigned.update((m.key, child_id) for m in cluster.members)
    alone = pairwise_quality(_joined(data.people, resolution.scored), data.labels)
    quality = replace(pairwise_quality(assigned, data.labels), model_alone=alone)
    if clusters_out is not None:
        clusters_out.parent.mkdir(parents=True, exist_ok=True)
        with clusters_out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["record_id", "child_id"])
            writer.writerows([key[1], assigned[key]] for key in data.labels)
    return quality, model


def _joined(people: Sequence[PersonRow], scored: Sequence[Any]) -> dict[Key, str]:
    """Each record's cluster when every scored pair (at or above the review threshold) is
    joined: connected components, as Splink's own clustering at that threshold makes them."""
    index = {person.key: n for n, person in enumerate(people)}
    root = _components(len(people), ((index[p.left], index[p.right]) for p in scored))
    return {person.key: str(root[n]) for n, person in enumerate(people)}


def _components(size: int, pairs: Iterable[tuple[int, int]]) -> list[int]:
    """Each of ``size`` items' component (a root item) once every pair is joined."""
    root = list(range(size))

    def find(i: int) -> int:
        while root[i] != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    for left, right in pairs:
        root[find(left)] = find(right)
    return [find(i) for i in range(size)]


def pairwise_quality(assigned: Mapping[Any, str], truth: Mapping[Any, str]) -> Quality:
    """Compare predicted clusters (record -> child id) with true ones (record -> label)."""
    clusters: dict[str, list[str]] = defaultdict(list)
    for key, child_id in assigned.items():
        clusters[child_id].append(truth[key])
    true_sizes = Counter(truth[key] for key in assigned)
    predicted = sum(len(c) * (len(c) - 1) // 2 for c in clusters.values())
    correct = sum(n * (n - 1) // 2 for c in clusters.values() for n in Counter(c).values())
    true_pairs = sum(n * (n - 1) // 2 for n in true_sizes.values())
    precision = correct / predicted if predicted else 1.0
    recall = correct / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    merged = {label for c in clusters.values() if len(set(c)) > 1 for label in c}
    pieces = Counter(label for c in clusters.values() for label in set(c))
    return Quality(
        records=len(assigned),
        true_children=len(true_sizes),
        predicted_children=len(clusters),
        precision=precision,
        recall=recall,
        f1=f1,
        children_in_false_merges=len(merged),
        children_split=sum(1 for n in pieces.values() if n > 1),
    )
