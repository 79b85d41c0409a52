"""``docs/configuration.md``, written from ``gateway.settings`` and the code that reads it.

Who reads a setting is found in the source: every ``settings().<name>`` (the one way code reads
a setting), every call of ``source_setting`` and ``stale_after_hours_override``.
``ehe-gateway settings --markdown`` prints it; a test fails when the committed file differs.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from connectors.registry import CONNECTORS
from gateway import config
from gateway.settings import (
    LIBRARY_ENVIRONMENT,
    PREFIX,
    SOURCE_PREFIX,
    STALE_PREFIX,
    Settings,
)

PACKAGES = ("gateway", "connectors", "dags")
DOC = Path("docs") / "configuration.md"
_READ = re.compile(r"\bsettings\(\)\.(?!model_)(\w+)")  # a field, not pydantic's methods
_FAMILY_READ = re.compile(r"\b(source_setting|stale_after_hours_override)\(")


def code_files() -> list[Path]:
    """The project's code (not tests), where settings are read."""
    return sorted(p for package in PACKAGES for p in (config.PROJECT_ROOT / package).rglob("*.py"))


def _module(path: Path) -> str:
    relative = path.relative_to(config.PROJECT_ROOT).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def readers() -> dict[str, set[str]]:
    """Setting (field name, or a family's function) -> the modules that read it."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in code_files():
        if path.name == "settings.py" and path.parent.name == "gateway":
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in (_READ, _FAMILY_READ):
            for name in pattern.findall(text):
                found[name].add(_module(path))
    return found


def _default(name: str, field: Any) -> str:
    extra = field.json_schema_extra or {}
    if "shown_default" in extra:
        return str(extra["shown_default"])
    return "unset" if field.default is None else f"`{field.default}`"


def _who(modules: set[str]) -> str:
    return ", ".join(f"`{m}`" for m in sorted(modules)) or "-"


def _source_variables() -> list[str]:
    lines = []
    for source, cls in sorted(CONNECTORS.items()):
        if cls.inbox_folder is None:
            keys = tuple(getattr(cls, "env_config", ("url",)))
            default = "none (the demo does not run it)"
        else:
            keys = tuple(cls.inbox_config(Path()))
            default = f"its folder `$EHE_INBOX/{cls.inbox_folder}`"
        names = ", ".join(f"`{SOURCE_PREFIX}{source.upper()}_{k.upper()}`" for k in keys)
        lines.append(f"| `{source}` | {names} | {default} |")
    return lines


def markdown() -> str:
    """The whole of ``docs/configuration.md``."""
    read_by = readers()
    lines = [
        "# Configuration",
        "",
        "Every setting the gateway reads from its environment. Generated from",
        "`gateway/settings.py` by `ehe-gateway settings --markdown > docs/configuration.md`",
        "(`make docs`); a test fails when this file is out of date or when code reads a setting",
        "that is not declared there.",
        "",
        "| Variable | Default | Description | Read by |",
        "| --- | --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        lines.append(
            f"| `{PREFIX}{name.upper()}` | {_default(name, field)} | {field.description} "
            f"| {_who(read_by.get(name, set()))} |"
        )
    lines += [
        "",
        "## Per source",
        "",
        f"`{SOURCE_PREFIX}<SOURCE>_<KEY>`: one setting of one source, read by "
        f"{_who(read_by.get('source_setting', set()))}. A file source reads `_PATH` (a file or",
        "folder), a database `_URL` (a SQLAlchemy URL), an API the keys its connector names",
        "(secrets such as `_CLIENT_SECRET` only ever from the environment). An Airflow Connection",
        "`ehe_<source>` wins over them in a DAG's tasks.",
        "",
        "| Source | Variables | Default |",
        "| --- | --- | --- |",
        *_source_variables(),
        "",
        f"`{STALE_PREFIX}<SOURCE>`: hours without a good batch before the source counts as stale,",
        "overriding its connector's `stale_after_hours` (`ehe-gateway sources` lists the sources);",
        f"read by {_who(read_by.get('stale_after_hours_override', set()))}.",
        "",
        "## Set for libraries",
        "",
        "Set by the gateway unless the environment already has them:",
        "",
        *[f"- `{name}={value}`" for name, value in LIBRARY_ENVIRONMENT.items()],
        "",
    ]
    return "\n".join(lines)
