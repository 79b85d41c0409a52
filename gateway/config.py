"""Where things live: the one place that chooses the index database and the data folders.

Everything that needs the index URL, the landing area or the inbox asks this module, so a
deployment changes backend by setting ``EHE_INDEX_URL`` and nothing else (every setting is
declared in ``gateway.settings``).
"""

from __future__ import annotations

from pathlib import Path

from gateway.settings import settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MAPPINGS_DIR = PROJECT_ROOT / "mappings"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
ACCESS_DIR = PROJECT_ROOT / "access"
AGREEMENTS_DIR = PROJECT_ROOT / "agreements"


def data_dir() -> Path:
    """The project's data folder (``EHE_DATA_DIR``, default ``./data`` in the checkout)."""
    return settings().data_dir or PROJECT_ROOT / "data"


def index_url() -> str:
    """The index database URL: ``EHE_INDEX_URL`` or a SQLite file in the data folder."""
    url = settings().index_url
    if url:
        return url
    path = data_dir() / "index.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def landing_dir() -> Path:
    """Where received files are kept byte-exact, one folder per source and batch."""
    return settings().landing_dir or data_dir() / "landing"


def staging_dir() -> Path:
    """Where validated canonical records wait, one file per batch, to be loaded."""
    return settings().staging_dir or data_dir() / "staging"


def inbox_dir() -> Path:
    """Where agencies' files arrive (the synthetic population is written here by the demo)."""
    return settings().inbox or data_dir() / "inbox"


def reports_dir() -> Path:
    """Where scheduled reports are written."""
    return settings().reports_dir or data_dir() / "reports"


def outbox_dir() -> Path:
    """Where alert emails are written when no SMTP server is set."""
    return settings().notify_outbox or data_dir() / "outbox"


def mllp_dir() -> Path:
    """The MLLP listener's message store."""
    return settings().mllp_dir or data_dir() / "mllp"


def agreements_dir() -> Path:
    """The data sharing agreements the access policy reads."""
    return settings().agreements_dir or AGREEMENTS_DIR


def gate_min_records() -> int:
    """Batches with fewer records than this (``EHE_GATE_MIN_RECORDS``, default 20) are judged
    record by record: the held-share and empty-column gates do not stop them (one right hold
    in a one-record file is not a broken delivery)."""
    return settings().gate_min_records
