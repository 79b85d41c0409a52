"""Demo users of the local token issuer, from reviewable YAML (``access/demo_users.yaml``)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway import config
from gateway.access.roles import ROLES
from gateway.errors import FatalConfigError


class DemoUser(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=120)
    display_name: str
    organisation: str = Field(min_length=1, max_length=120)
    role: str

    @field_validator("role")
    @classmethod
    def _known_role(cls, value: str) -> str:
        if value not in ROLES:
            raise ValueError(f"unknown role {value!r}; known: {', '.join(ROLES)}")
        return value


class DemoUsers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    users: list[DemoUser]


def demo_users_path() -> Path:
    return config.ACCESS_DIR / "demo_users.yaml"


def load_demo_users(path: Path | None = None) -> dict[str, DemoUser]:
    """Every demo user by name; every problem in the file reported at once."""
    source = path or demo_users_path()
    try:
        parsed = DemoUsers.model_validate(yaml.safe_load(source.read_text()))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise FatalConfigError(f"{source.name}: {problems}") from None
    names = [u.name for u in parsed.users]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise FatalConfigError(f"{source.name}: users named twice: {', '.join(duplicates)}")
    return {u.name: u for u in parsed.users}
