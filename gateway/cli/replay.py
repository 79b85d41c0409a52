"""``ehe-gateway replay``: what the index held about a child at an instant, what a lookup would
have answered then, and who looked (IG officers; audited)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from gateway.cli.app import app


def _instant(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            "give a date and time such as 2026-11-29T14:30:00Z", param_hint="--as-of"
        ) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


@app.command()
def replay(  # noqa: PLR0917 (a command's options)
    as_of: Annotated[
        str, typer.Option("--as-of", help="The instant, ISO 8601 (UTC unless it names a zone)")
    ],
    child: Annotated[str, typer.Option("--child", help="The child's id (C-...)")],
    role: Annotated[str, typer.Option(help="The role the lookup is replayed for")],
    organisation: Annotated[str, typer.Option(help="The organisation it is replayed for")],
    purpose: Annotated[str, typer.Option(help="The purpose code the lookup stated")],
    by: Annotated[str, typer.Option("--by", help="The IG officer replaying (audited)")],
    by_organisation: Annotated[
        str, typer.Option("--by-organisation", help="The IG officer's organisation")
    ] = "LA",
    user: Annotated[
        str, typer.Option(help="The user replayed (only a break-glass override depends on it)")
    ] = "replay",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text")] = False,
) -> None:
    """Replay a lookup of a child as of an instant, for a practice review: the record versions
    and links then current, the answer the policy point would have given to this role,
    organisation and purpose, and every audit entry about the child up to then."""
    from gateway.access.agreements import load_agreements
    from gateway.access.audit import Actor
    from gateway.access.purposes import UnknownPurposeError, purpose_for
    from gateway.access.roles import ROLES
    from gateway.policy.replay import replay as run_replay
    from gateway.store.engine import session_factory

    at = _instant(as_of)
    if role not in ROLES:
        raise typer.BadParameter(f"unknown role; known: {', '.join(ROLES)}", param_hint="--role")
    try:
        stated = purpose_for(purpose)
    except UnknownPurposeError as exc:
        raise typer.BadParameter(exc.reason, param_hint="--purpose") from None
    with session_factory().begin() as session:
        result = run_replay(
            session,
            Actor(by, by_organisation, "ig_officer"),
            child,
            at,
            actor=Actor(user, organisation, role),
            purpose=stated,
            agreements=load_agreements(),
        )
        shown = result.as_json()
    if as_json:
        typer.echo(json.dumps(shown, indent=2, ensure_ascii=False))
    else:
        typer.echo("\n".join(replay_text(shown)))


def replay_text(shown: dict[str, Any]) -> list[str]:
    """The replay as lines of plain text (its three parts)."""
    held, lookup = shown["held"], shown["lookup"]
    lines = [
        f"Replay of {held['child_asked']} as of {shown['as_of']} "
        f"(agreements read on {shown['agreements_read_on']})",
        shown["agreement_note"],
        "",
        "1. What the index held",
    ]
    if held["child_id"] is None:
        lines.append("   no child with this id was in the index then")
    else:
        merged = ", ".join(held["merged_into_it"]) or "none"
        lines += [
            f"   child {held['child_id']} (children merged into it: {merged}); "
            f"restricted: {'yes' if held['restricted'] else 'no'}",
            "   links:",
            *(
                f"     {k['source']}/{k['record_id']}  {k['origin']}  {k['rule']}  "
                f"since {k['since'] or 'unknown'} ({k['action'] or 'no history'})"
                for k in held["links"]
            ),
            "   record versions then current:",
            *(
                f"     {v['source']}/{v['record_id']}  version {v['version']}  received "
                f"{v['received_at']}  batch {v['batch_id']}"
                f"{'  RESTRICTED' if v['restricted'] else ''}"
                for v in held["record_versions"]
            ),
            *(
                f"   held back: {n['agency']} ({n['why']}, since {n['since']})"
                for n in held["held_back"]
            ),
            *(f"   note: {gap}" for gap in held["gaps"]),
        ]
    lines += [
        "",
        f"2. What a lookup would have answered to {lookup['role']} of "
        f"{lookup['organisation']} for {lookup['purpose']}",
        f"   outcome: {lookup['outcome']}; clause: {lookup['agreement_clause'] or 'none'}",
    ]
    if lookup["reason"]:
        lines.append(f"   reason: {lookup['reason']}")
    lines += [
        f"   fields disclosed: {', '.join(lookup['fields_disclosed']) or 'none'}",
        f"   fields refused: {', '.join(lookup['fields_refused']) or 'none'}",
        f"   answer digest: {lookup['answer_digest'] or 'none'}",
    ]
    if lookup["answer"]:
        answer = json.dumps(lookup["answer"]["summary"], indent=2, ensure_ascii=False)
        lines += ["   answer:", *(f"     {line}" for line in answer.splitlines())]
    lines += ["", f"3. Who looked, up to then ({len(shown['looked'])} audit entries)"]
    for e in shown["looked"]:
        digest = f"; answer {e['answer_digest'][:12]}" if e["answer_digest"] else ""
        lines.append(
            f"   {e['at']}  {e['user']} ({e['role']}, {e['organisation']})  {e['action']}"
            f"  {e['purpose'] or '-'}: {e['outcome']}; shown: "
            f"{', '.join(e['fields_disclosed']) or 'nothing'}{digest}"
        )
    return lines
