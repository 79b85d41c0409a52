"""Sign in (as one of the demo users the API's local issuer signs for), sign out, start page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateway.access.users import load_demo_users
from gateway.web.render import check_csrf, page
from gateway.web.session import actor_of, local_issuer, sign_in, sign_out

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def start(request: Request) -> Response:
    if actor_of(request) is None:
        return RedirectResponse("/sign-in", status_code=303)
    return page(request, "start.html")


def _sign_in_page(request: Request, errors: dict[str, str] | None = None) -> Response:
    issuer = local_issuer(request)
    users = list(load_demo_users().values()) if issuer else []
    context = {"users": users, "errors": errors or {}, "external": issuer is None}
    return page(request, "sign_in.html", context, status_code=400 if errors else 200)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request) -> Response:
    return _sign_in_page(request)


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in_submit(request: Request, user: Annotated[str, Form()] = "") -> Response:
    issuer = local_issuer(request)
    chosen = load_demo_users().get(user) if issuer else None
    if issuer is None or chosen is None:
        return _sign_in_page(request, {"user": "Choose who you are signing in as"})
    response = RedirectResponse("/", status_code=303)
    sign_in(response, issuer, chosen, secure=request.url.scheme == "https")
    return response


@router.post("/sign-out")
def sign_out_submit(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    response = RedirectResponse("/sign-in", status_code=303)
    sign_out(response)
    return response
