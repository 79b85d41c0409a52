"""Sign in (choose a demo user), sign out, and the start page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateway.web.render import check_csrf, page
from gateway.web.session import DEMO_USERS, actor_of, demo_user, sign_in, sign_out

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def start(request: Request) -> Response:
    if actor_of(request) is None:
        return RedirectResponse("/sign-in", status_code=303)
    return page(request, "start.html")


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request) -> Response:
    return page(request, "sign_in.html", {"users": DEMO_USERS})


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in_submit(request: Request, user: Annotated[str, Form()] = "") -> Response:
    chosen = demo_user(user)
    if chosen is None:
        errors = {"user": "Choose who you are signing in as"}
        return page(
            request, "sign_in.html", {"users": DEMO_USERS, "errors": errors}, status_code=400
        )
    response = RedirectResponse("/", status_code=303)
    sign_in(response, chosen, secure=request.url.scheme == "https")
    return response


@router.post("/sign-out")
def sign_out_submit(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    response = RedirectResponse("/sign-in", status_code=303)
    sign_out(response)
    return response
