"""Logging set-up: counts and ids at INFO, third-party chatter kept down."""

from __future__ import annotations

import logging

from gateway.settings import settings

QUIET = ("great_expectations", "alembic", "httpx", "urllib3", "sqlalchemy.engine", "splink")


def configure_logging(level: str | None = None) -> None:
    level = level or settings().log_level
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    else:
        root.setLevel(level)
    quiet_third_parties()


def quiet_third_parties() -> None:
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
