"""Where things live: the one place that chooses the index database and the data folders.

Everything that needs the index URL, the landing area or the inbox asks this module, so a
deployment changes backend by setting ``EHE_INDEX_URL`` and nothing else.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MAPPINGS_DIR = PROJECT_ROOT / "mappings"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
ACCESS_DIR = PROJECT_ROOT / "access"
AGREEMENTS_DIR = PROJECT_ROOT / "agreements"


def data_dir() -> Path:
    """The project's data folder (``EHE_DATA_DIR``, default ``./data`` in the checkout)."""
    return Path(os.environ.get("EHE_DATA_DIR", PROJECT_ROOT / "data"))


def index_url() -> str:
    """The index database URL: ``EHE_INDEX_URL`` or a SQLite file in the data folder."""
    url = os.environ.get("EHE_INDEX_URL")
    if url:
        return url
    path = data_dir() / "index.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def landing_dir() -> Path:
    """Where received files are kept byte-exact, one folder per source and batch."""
    return Path(os.environ.get("EHE_LANDING_DIR", data_dir() / "landing"))


def staging_dir() -> Path:
    """Where validated canonical records wait, one file per batch, to be loaded."""
    return Path(os.environ.get("EHE_STAGING_DIR", data_dir() / "staging"))


def inbox_dir() -> Path:
    """Where agencies' files arrive (the synthetic population is written here by the demo)."""
    return Path(os.environ.get("EHE_INBOX", data_dir() / "inbox"))


def gate_min_records() -> int:
    """Batches with fewer records than this (``EHE_GATE_MIN_RECORDS``, default 20) are judged
    record by record: the held-share gate does not stop them (one right hold in a one-record
    file is not a broken delivery)."""
    return int(os.environ.get("EHE_GATE_MIN_RECORDS", "20"))
