"""Mapping files: the declarative YAML that turns one source's dicts into canonical records.

A mapping only renames, casts, translates codes and calls named transforms; anything cleverer
is a Python function in ``gateway.mapping.transforms`` with its own tests. A file is checked
when loaded and every problem in it is reported at once.
"""

from __future__ import annotations

import typing
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway import config
from gateway.errors import FatalConfigError
from gateway.mapping.transforms import TRANSFORMS
from gateway.model import CanonicalRecord

Cast = Literal["str", "date", "int", "bool", "list"]
WHOLE_RECORD = "."


class FieldRule(BaseModel):
    """Where one canonical field comes from, and how it is turned into the canonical value."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source_path: str | None = Field(default=None, alias="from")
    value: Any = None
    cast: Cast | None = None
    date_formats: list[str] = Field(default_factory=list)
    codes: dict[str, Any] | None = None
    transform: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_origin(self) -> FieldRule:
        if (self.source_path is None) == (self.value is None):
            raise ValueError("give exactly one of 'from' or 'value'")
        return self


class ListRule(BaseModel):
    """A canonical list built from a repeating element of the source."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source_path: str = Field(alias="from")
    fields: dict[str, FieldRule]


class MappingSpec(BaseModel):
    """One source stream to the canonical record."""

    model_config = ConfigDict(extra="forbid")

    source: str
    agency: Literal["education", "health", "social_care"]
    description: str = ""
    record_id: FieldRule
    # The id of another record of the same source that this one retires (HL7 A40: MRG-1).
    retires: FieldRule | None = None
    fields: dict[str, FieldRule] = Field(default_factory=dict)
    lists: dict[str, ListRule] = Field(default_factory=dict)
    # Which of the source's fields are real contacts with the child (``gateway.model.contact``):
    # a rule giving a list of {kind, on}. A source without one records no contacts.
    contacts: FieldRule | None = None

    def field_rules(self) -> list[tuple[str, FieldRule]]:
        """Every canonical field rule by its target, the contacts rule included."""
        rules = list(self.fields.items())
        return [*rules, ("contacts", self.contacts)] if self.contacts is not None else rules


def load_mapping_file(path: Path) -> MappingSpec:
    """Read and check one mapping file; raise FatalConfigError listing every problem in it."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise FatalConfigError(f"{path.name}: not valid YAML: {exc}") from exc
    try:
        spec = MappingSpec.model_validate(document)
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise FatalConfigError(_report(path, problems)) from None
    problems = check_targets(spec)
    if problems:
        raise FatalConfigError(_report(path, problems))
    return spec


@cache
def mapping_for(source: str) -> MappingSpec:
    """The mapping of a source, from ``mappings/<source>.yaml``."""
    path = config.MAPPINGS_DIR / f"{source}.yaml"
    if not path.exists():
        raise FatalConfigError(f"no mapping file for source {source!r} ({path.name})")
    spec = load_mapping_file(path)
    if spec.source != source:
        raise FatalConfigError(f"{path.name}: declares source {spec.source!r}, expected {source!r}")
    return spec


def check_targets(spec: MappingSpec) -> list[str]:
    """Every target path must name a canonical field; every transform must exist."""
    problems: list[str] = []
    rules: list[tuple[str, FieldRule]] = [("record_id", spec.record_id)]
    if spec.retires is not None:
        rules.append(("retires", spec.retires))
    for target, rule in spec.field_rules():
        rules.append((target if target == "contacts" else f"fields.{target}", rule))
        if _field_type(target) is None:
            problems.append(f"fields.{target}: no such canonical field")
    for target, list_rule in spec.lists.items():
        item_type = _list_item_type(target)
        if item_type is None:
            problems.append(f"lists.{target}: not a canonical list of records")
            continue
        for name, rule in list_rule.fields.items():
            rules.append((f"lists.{target}.{name}", rule))
            if name not in item_type.model_fields:
                problems.append(
                    f"lists.{target}.{name}: {item_type.__name__} has no field {name!r}"
                )
    for where, rule in rules:
        if rule.transform and rule.transform not in TRANSFORMS:
            problems.append(f"{where}: unknown transform {rule.transform!r}")
    return problems


def _field_type(target: str) -> Any:
    model: Any = CanonicalRecord
    annotation: Any = None
    for part in target.split("."):
        if typing.get_origin(annotation) is dict:  # free keys, such as identity.local_ids.pas
            annotation = typing.get_args(annotation)[1]
            continue
        model = _model_of(annotation) if annotation is not None else model
        if model is None or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
    return annotation


def _list_item_type(target: str) -> type[BaseModel] | None:
    annotation = _field_type(target)
    if typing.get_origin(annotation) is not list:
        return None
    (item,) = typing.get_args(annotation)
    return item if isinstance(item, type) and issubclass(item, BaseModel) else None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    candidates = [annotation, *typing.get_args(annotation)]
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _report(path: Path, problems: list[str]) -> str:
    lines = "\n".join(f"  - {p}" for p in problems)
    return f"{path.name}: {len(problems)} problem(s) in mapping file\n{lines}"
