"""Every code a person reads has plain words in the one glossary: a new audit action or outcome
written anywhere in the code without its words fails here."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

from connectors.registry import CONNECTORS
from gateway.access.purposes import PURPOSES
from gateway.access.roles import ROLES
from gateway.glossary import ACTIONS, OUTCOMES, WORDS, long_date, words

GATEWAY = Path(__file__).resolve().parents[1] / "gateway"
WRITTEN = re.compile(r"\b(action|outcome)=\"([a-z_]+)\"")


def _codes_written(kind: str) -> set[str]:
    found = set()
    for path in GATEWAY.rglob("*.py"):
        found |= {code for k, code in WRITTEN.findall(path.read_text()) if k == kind}
    return found


def test_every_audit_action_and_outcome_the_code_writes_has_words() -> None:
    assert _codes_written("action") - set(ACTIONS) == set()
    assert _codes_written("outcome") - set(OUTCOMES) == set()


def test_every_role_purpose_and_source_has_words() -> None:
    for code in [*ROLES, *PURPOSES, *CONNECTORS, "education", "health", "social_care"]:
        assert code in WORDS and "_" not in words(code), code


def test_clauses_overrides_and_unknown_codes_read_as_words() -> None:
    assert words("nyorks-ehe-2026#ehe-officers") == (
        "ehe officers clause of agreement nyorks-ehe-2026"
    )
    assert words("break-glass:7") == "break-glass override 7"
    assert words("some_new_code") == "some new code"


def test_dates_read_as_people_write_them() -> None:
    assert long_date(date(2023, 2, 23)) == "23 February 2023"
    assert long_date("2026-01-05") == "5 January 2026"
    assert long_date(datetime(2026, 11, 29, 14, 5)) == "29 November 2026 14:05"
    assert long_date(None) == ""
