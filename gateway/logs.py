"""Logging set-up: counts and ids at INFO, third-party chatter kept down."""

from __future__ import annotations

import logging
import os

QUIET = ("great_expectations", "alembic", "httpx", "urllib3", "sqlalchemy.engine", "splink")


def configure_logging(level: str | None = None) -> None:
    level = level or os.environ.get("EHE_LOG_LEVEL", "INFO")
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    else:
        root.setLevel(level)
    quiet_third_parties()


def quiet_third_parties() -> None:
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
