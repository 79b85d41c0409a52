"""``/api/v1/audit``: audit queries and the chain check, for IG officers only.

No ``from __future__ import annotations``: FastAPI reads the annotations at runtime.
"""

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.audit_queries import (
    AuditEntryOut,
    AuditQuery,
    ChainReport,
    search_audit,
    verify_chain,
)
from gateway.api.deps import COMMON_RESPONSES, database, require_role

router = APIRouter(prefix="/api/v1/audit", responses=COMMON_RESPONSES)
IgOfficer = Annotated[Actor, Depends(require_role("ig_officer"))]
Db = Annotated[Session, Depends(database)]


@router.post("/search", response_model=list[AuditEntryOut])
def audit_search(query: AuditQuery, who: IgOfficer, db: Db) -> list[AuditEntryOut]:
    """Audit entries by user, organisation, role, purpose, child, outcome and time (POSTed).

    The search itself is audited: who looked into whose history is accountable too."""
    found = search_audit(db, query)
    append(
        db,
        AuditEvent(
            actor=who,
            action="audit_search",
            outcome="disclosed",
            child_id=query.child_id,
            reason=f"{len(found)} entries listed",
        ),
    )
    db.commit()
    return found


@router.get("/verify", response_model=ChainReport)
def audit_verify(who: IgOfficer, db: Db) -> ChainReport:
    """Whether every entry's hash and link hold, and the first that does not."""
    return verify_chain(db)
