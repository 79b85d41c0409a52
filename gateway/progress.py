"""Progress for long commands: a bar in a terminal, plain log lines anywhere else."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger("gateway.progress")


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Yield ``items``, showing progress as ``description`` (step names only, never data)."""
    if sys.stderr.isatty():
        from rich.progress import track as rich_track

        yield from rich_track(items, description=description, total=total, transient=False)
        return
    listed = list(items)
    count = total if total is not None else len(listed)
    for number, item in enumerate(listed, start=1):
        log.info("%s: step %d of %d", description, number, count)
        yield item
    log.info("%s: done", description)
