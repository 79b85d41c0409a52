"""Progress for long commands: a bar in a terminal, plain log lines anywhere else."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger("gateway.progress")


def track(items: Iterable[T], description: str, total: int) -> Iterator[T]:
    """Yield ``items`` as they come, showing ``description`` and how many of ``total`` are done."""
    if sys.stderr.isatty():
        from rich.progress import track as rich_track

        yield from rich_track(items, description=description, total=total, transient=True)
        return
    for number, item in enumerate(items, start=1):
        log.info("%s: %d of %d done", description, number, total)
        yield item
