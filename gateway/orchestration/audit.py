"""Builder of the audit checkpoint DAG: hourly, verify the audit log and sign a checkpoint.

The work is ``gateway.access.audit_schedule.verify_and_checkpoint``; the task's XCom holds
counts only (entries verified, checkpoints checked against, chains signed).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, task

from gateway.orchestration.dags import COMMON, DEFAULT_ARGS
from gateway.orchestration.tasks import run_step

DAG_ID = "audit__checkpoint"
DOC = """
### Audit checkpoint

Every hour: verify the audit log (every chain link by link, each chain's end against its head,
and the whole against the signed checkpoints already in the checkpoint file), then sign a new
checkpoint (each chain's last entry, its hash and count, with the time) with the Ed25519 key
and append it to the checkpoint file.

- **Fails at once** (`task_failed` alert) when `EHE_AUDIT_SIGNING_KEY` or
  `EHE_AUDIT_CHECKPOINTS` is not set or the key file is missing: the message names the setting.
- **Fails and raises an `audit_broken` alert** when verify finds a truncation, deletion,
  rewrite, reordering or a forged checkpoint, naming each one's chain and first sequence
  number. No checkpoint is signed over a broken log. Run `ehe-gateway audit verify
  --checkpoints PATH` and see docs/operations.md.
"""


def audit_checkpoint_dag() -> Any:
    @dag(
        dag_id=DAG_ID,
        schedule="@hourly",
        **COMMON,
        default_args={**DEFAULT_ARGS, "execution_timeout": timedelta(minutes=30)},
        tags=["audit"],
        doc_md=DOC,
    )
    def audit_checkpoint() -> None:
        @task(task_id="verify_and_checkpoint")
        def verify_and_checkpoint() -> dict[str, int]:
            from dataclasses import asdict

            from gateway.access.audit_schedule import verify_and_checkpoint as run

            return asdict(run_step("audit_log", None, run, "audit_checkpoint"))

        verify_and_checkpoint()

    return audit_checkpoint()
