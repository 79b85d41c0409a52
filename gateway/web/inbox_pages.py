"""The team inbox: the alerts to the inboxes a person's team has (organisation and role from
the session, the inboxes from the agreements in force), newest first.

The page shows each alert's child id, event, date and delivery status: nothing about the
child. Each links to the lookup flow (``/inbox/child/<id>``: the purpose question, then the
policy point's answer, audited), so whoever opens a child states why. Showing the inbox is
audited, naming the children listed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from gateway.access.audit import SHOWN_CHILD, Actor, AuditEvent, append
from gateway.access.purposes import PURPOSES
from gateway.notify.messages import event_words
from gateway.notify.run import inbox_items
from gateway.web.lookup_pages import may_look_up_or_403
from gateway.web.render import database, inboxes_of, page, signed_in

router = APIRouter()
Who = Annotated[Actor, Depends(signed_in)]
Db = Annotated[Session, Depends(database)]
CHILD_ID = r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$"


@router.get("/inbox", response_class=HTMLResponse)
def team_inbox(request: Request, who: Who, db: Db) -> Response:
    """The alerts to the person's team inboxes; one audit entry naming the children listed."""
    inboxes = inboxes_of(request, who)
    if not inboxes:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "No agreement names an inbox for your team")
    items = inbox_items(db, [b.team for b in inboxes])
    append(
        db,
        AuditEvent(
            actor=who,
            action="notify_inbox",
            outcome="viewed",
            fields_disclosed=sorted({f"{SHOWN_CHILD}{i.child_id}" for i in items}),
        ),
    )
    db.commit()  # the page is shown only once its audit entry is durable
    names = {b.team: b.name for b in inboxes}
    context = {"items": items, "inboxes": inboxes, "names": names, "event_words": event_words}
    return page(request, "inbox.html", context)


@router.get("/inbox/child/{child_id}", response_class=HTMLResponse)
def open_child(
    request: Request, who: Who, child_id: Annotated[str, Path(pattern=CHILD_ID)]
) -> Response:
    """An alert's link: the lookup flow's purpose question for the child (nothing shown yet)."""
    may_look_up_or_403(request, who)
    return page(request, "purpose.html", {"identifier": child_id, "purposes": PURPOSES.values()})
