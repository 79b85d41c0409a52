"""How long one scheduled audit checkpoint takes (verify the whole log, then sign), on a fresh
SQLite index holding N entries: ``.venv/bin/python benchmarks/bench_audit_checkpoint.py 20000``.
Prints each of two runs: the first with no earlier checkpoint, the second against one."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path


def main(entries: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="ehe-bench-audit-"))
    os.environ["EHE_DATA_DIR"] = str(folder)
    os.environ["EHE_AUDIT_SIGNING_KEY"] = str(folder / "audit.pem")
    os.environ["EHE_AUDIT_CHECKPOINTS"] = str(folder / "checkpoints.jsonl")
    url = f"sqlite:///{folder / 'index.sqlite'}"

    from gateway.access.audit import Actor, AuditEvent, append
    from gateway.access.audit_integrity import write_key
    from gateway.access.audit_schedule import verify_and_checkpoint
    from gateway.store.engine import session_factory
    from gateway.store.migrate import upgrade

    upgrade(url)
    who = Actor("erin.ehe", "North Yorkshire Council", "ehe_officer")
    with session_factory(url).begin() as session:
        for n in range(entries):
            append(session, AuditEvent(who, "lookup", "disclosed", "ehe_enquiry", f"C-{n}"))
    write_key(folder / "audit.pem")
    for _ in range(2):
        started = time.perf_counter()
        made = verify_and_checkpoint(url)
        print(
            f"{made.entries} entries, against {made.checked_against} checkpoints: "
            f"{time.perf_counter() - started:.2f} s"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
