"""Apply a mapping to one source dict, giving a canonical record or the reasons it cannot."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any

from pydantic import ValidationError

from gateway.mapping.spec import WHOLE_RECORD, FieldRule, ListRule, MappingSpec
from gateway.mapping.transforms import (
    DATED,
    ISO_FORMATS,
    TRANSFORMS,
    MappingValueError,
    parse_date,
)
from gateway.model import CanonicalRecord, Provenance

# What a cast or transform raises for a value it cannot handle; each names no value (our own
# transforms say why in words; Python's own messages for these name types, not contents).
TRANSFORM_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError)


@dataclass
class Mapped:
    """The outcome for one record: a canonical record, or the problems (no values in them)."""

    record_id: str | None
    record: CanonicalRecord | None = None
    problems: list[str] = field(default_factory=list)
    retires: str | None = None  # a record of the same source this one retires (a merge)


def resolve(data: Any, path: str) -> Any:
    """Follow a dotted path through dicts and lists (numbers index lists); None if absent."""
    if path == WHOLE_RECORD:
        return data
    current = data
    for part, index in _steps(path):
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and index is not None and index < len(current):
            current = current[index]
        else:
            return None
        if current is None:
            return None
    return current


@cache
def _steps(path: str) -> tuple[tuple[str, int | None], ...]:
    """A dotted path split once: each part, with its list index if it is a number."""
    return tuple((part, int(part) if part.isdigit() else None) for part in path.split("."))


@cache
def _target(path: str) -> tuple[tuple[str, ...], str]:
    *parents, leaf = path.split(".")
    return tuple(parents), leaf


def evaluate(rule: FieldRule, data: Any, as_of: date) -> Any:
    """The canonical value of one field rule over ``data``; ValueError says why not.

    ``as_of`` is the day the data was received: transforms whose answer depends on the day
    (``DATED``) are given it, so a batch maps the same whatever day it is mapped on.
    """
    value = rule.value if rule.source_path is None else resolve(data, rule.source_path)
    if rule.transform:
        if rule.transform in DATED:
            value = TRANSFORMS[rule.transform](value, as_of=as_of, **rule.args)
        else:
            value = TRANSFORMS[rule.transform](value, **rule.args)
    if rule.codes is not None and value is not None:
        key = str(value).strip()
        if key not in rule.codes:
            raise MappingValueError("code not in the mapping's code list")
        value = rule.codes[key]
    if rule.cast is not None:
        value = _cast(value, rule)
    return value


def _cast(value: Any, rule: FieldRule) -> Any:
    if value is None or value == "":
        return [] if rule.cast == "list" else None
    if rule.cast == "str":
        return str(value).strip()
    if rule.cast == "int":
        try:
            return int(value)
        except ValueError:
            raise MappingValueError("not a whole number") from None
    if rule.cast == "bool":
        return str(value).strip().lower() in ("1", "true", "yes", "y")
    if rule.cast == "list":
        return value if isinstance(value, list) else [value]
    return parse_date(value, rule.date_formats or ISO_FORMATS)


def _reason(exc: Exception) -> str:
    """Our own messages name no values; Python's may (int('...')), so only their kind is kept."""
    if isinstance(exc, MappingValueError):
        return str(exc)
    return f"cannot be read ({type(exc).__name__})"


def _put(target: dict[str, Any], path: str, value: Any) -> None:
    parents, leaf = _target(path)
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = value


def apply_mapping(
    spec: MappingSpec, data: dict[str, Any], *, batch_id: str, received_at: datetime
) -> Mapped:
    """Map one source dict; every failing field is named, and none of the values."""
    problems: list[str] = []
    as_of = received_at.date()
    try:
        record_id = evaluate(spec.record_id, data, as_of)
    except TRANSFORM_ERRORS as exc:
        return Mapped(None, problems=[f"record_id: {_reason(exc)}"])
    if not record_id:
        return Mapped(None, problems=["record_id: missing"])
    record_id = str(record_id)
    document: dict[str, Any] = {"agency": spec.agency, spec.agency: {}, "identity": {}}
    for target, rule in spec.field_rules():
        try:
            _put(document, target, evaluate(rule, data, as_of))
        except TRANSFORM_ERRORS as exc:
            problems.append(f"{target}: {_reason(exc)}")
    for target, list_rule in spec.lists.items():
        _put(document, target, _map_list(target, list_rule, data, problems, as_of))
    if problems:
        return Mapped(record_id, problems=problems)
    document["provenance"] = Provenance(
        source=spec.source, record_id=record_id, batch_id=batch_id, received_at=received_at
    )
    try:
        record = CanonicalRecord.model_validate(document)
    except ValidationError as exc:
        return Mapped(
            record_id,
            problems=[f"{'.'.join(map(str, e['loc']))}: {e['type']}" for e in exc.errors()],
        )
    return _with_retires(Mapped(record_id, record=record), spec, data, as_of)


def _with_retires(mapped: Mapped, spec: MappingSpec, data: dict[str, Any], as_of: date) -> Mapped:
    """Add the id the record retires (if the mapping names one): a merge to apply on load."""
    if spec.retires is None:
        return mapped
    try:
        retired = evaluate(spec.retires, data, as_of)
    except TRANSFORM_ERRORS as exc:
        return Mapped(mapped.record_id, problems=[f"retires: {_reason(exc)}"])
    if retired and str(retired) != mapped.record_id:
        mapped.retires = str(retired)
    return mapped


def _map_list(
    target: str, rule: ListRule, data: Any, problems: list[str], as_of: date
) -> list[dict[str, Any]]:
    """Map each repeating item; a failing field is added to ``problems`` with its position."""
    items = []
    for position, item in enumerate(_items(resolve(data, rule.source_path)), start=1):
        mapped_item: dict[str, Any] = {}
        for name, field_rule in rule.fields.items():
            try:
                mapped_item[name] = evaluate(field_rule, item, as_of)
            except TRANSFORM_ERRORS as exc:
                problems.append(f"{target}[{position}].{name}: {_reason(exc)}")
        items.append(mapped_item)
    return items


def _items(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
