"""Task-side helpers of the gateway's DAGs: run a step per batch, classify failures, alert.

Retriable failures (a source down, the index connection lost) are raised for Airflow to retry
with backoff; fatal ones (configuration, a refusal of the index, a stale source, an unknown
error) fail the task at once with ``AirflowFailException``. A gated batch is not a failure: it
is held whole with its reasons and alerted once (``batch_gated``), and the run goes on (the
load task says ``HELD`` in one line: ``outcomes.load_outcome``); after load has published the
batches that passed, the ``held`` task fails the run in one line (``BatchesHeld``), so the run
shows as failed without holding back the feed. An expected failure (the
gateway's own errors) is logged as its one-line reason, no frames; an unknown one as its frames
only. The failure callback says which source, batch and why, from ids and the gateway's own
messages only: a driver's message can quote record contents, so any other exception is named
by its type.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Callable
from typing import Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException

from gateway.errors import GatewayError
from gateway.settings import settings

log = logging.getLogger(__name__)


class StepFailed(AirflowException):
    """A retriable failure of one step of one source's batch (Airflow retries it)."""

    def __init__(self, message: str, *, source: str, batch: str | None) -> None:
        super().__init__(message)
        self.source, self.batch = source, batch
        self.alert_kind = "task_failed"


class StepFailedFatal(AirflowFailException):
    """A failure retrying cannot mend: the task fails at once and a person is alerted."""

    def __init__(self, message: str, *, source: str, batch: str | None) -> None:
        super().__init__(message)
        self.source, self.batch = source, batch
        self.alert_kind = "task_failed"


def run_step(source: str, batch: str | None, step: Callable[[], Any], name: str = "step") -> Any:
    """Run one step; turn any failure into a retriable or fatal Airflow error that is safe."""
    from gateway.recovery import classify

    started, wall_start = time.perf_counter(), time.time()
    try:
        result = step()
        _record_timing(name, source, batch, wall_start, time.perf_counter() - started)
        return result
    except Exception as exc:
        failure = classify(exc)
        reason = failure.describe(source, batch)
        if isinstance(exc, GatewayError):  # expected: the gateway's own one-line reason
            log.error("%s", reason)
        else:  # frames and code lines only: an unknown error's message may hold record contents
            log.warning("step failed in:\n%s", "".join(traceback.format_tb(exc.__traceback__)))
        kind = StepFailed if failure.retriable else StepFailedFatal
        error = kind(reason, source=source, batch=batch)
        error.alert_kind = failure.alert_kind
        raise error from None


def per_batch(source: str, batch_ids: list[str], step: Callable[[str], Any]) -> list[Any]:
    name = getattr(step, "__name__", "step")
    return [run_step(source, b, lambda b=b: step(b), name) for b in batch_ids]  # type: ignore[misc]


def _record_timing(
    name: str, source: str, batch: str | None, started: float, seconds: float
) -> None:
    """With ``EHE_STEP_TIMINGS`` set (the benchmark sets it), append when and how long the work
    took (its start as epoch seconds, so steps of parallel processes can be laid side by side)."""
    path = settings().step_timings
    if path:
        line = {
            "step": name,
            "source": source,
            "batch": batch,
            "started": started,
            "seconds": seconds,
        }
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")


def _alert(context: dict[str, Any], kind: str) -> None:
    from gateway.monitoring.alerts import Alert, raise_alert

    ti = context.get("ti") or context.get("task_instance")
    exc = context.get("exception")
    safe = isinstance(exc, (StepFailed, StepFailedFatal))
    reason = str(exc) if safe else type(exc).__name__ if exc else "unknown"
    raise_alert(
        Alert(
            kind=kind,
            source=getattr(exc, "source", None),
            batch=getattr(exc, "batch", None),
            reason=reason,
            dag_id=getattr(ti, "dag_id", None),
            task_id=getattr(ti, "task_id", None),
        )
    )


class BatchesHeld(AirflowFailException):
    """Batches of this run held whole by a gate: each already alerted once (``batch_gated``)."""

    already_alerted = True


def on_failure(context: dict[str, Any]) -> None:
    """Failure callback: alert with source, batch and reason (stale sources included)."""
    if getattr(context.get("exception"), "already_alerted", False):
        return
    _alert(context, getattr(context.get("exception"), "alert_kind", "task_failed"))


def on_retry(context: dict[str, Any]) -> None:
    ti = context.get("ti")
    exc = context.get("exception")
    reason = str(exc) if isinstance(exc, StepFailed) else type(exc).__name__
    log.warning(
        "retrying %s.%s: %s", getattr(ti, "dag_id", "?"), getattr(ti, "task_id", "?"), reason
    )
