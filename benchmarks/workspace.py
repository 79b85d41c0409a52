"""A throw-away gateway for one benchmark run: data folder, inbox and index in a temp folder."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gateway.logs import configure_logging


@contextmanager
def temporary_gateway(index_url: str | None = None) -> Iterator[tuple[Path, str]]:
    """Point the gateway at a temporary folder; yield it and the index URL (SQLite by default)."""
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        os.environ["EHE_DATA_DIR"] = str(root / "data")
        os.environ["EHE_INBOX"] = str(root / "inbox")
        url = index_url or f"sqlite:///{root / 'index.sqlite'}"
        os.environ["EHE_INDEX_URL"] = url
        yield root, url
