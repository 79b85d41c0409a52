"""Plain words for every code a person reads: roles, purposes, sources, agencies, audit
actions and outcomes, agreement clauses, and dates as "23 February 2023". One table, used by
the pages and the reports alike (Jinja filters ``words`` and ``long_date``)."""

from __future__ import annotations

from datetime import date, datetime

from gateway.access.purposes import PURPOSES
from gateway.access.roles import ROLES

SOURCES = {
    "education__ctf": "Schools: pupils leaving a school roll (Common Transfer Files)",
    "education__ehe_register": "Local authority: home education and missing education register",
    "education__removal_from_roll": "Schools: notices of removal from roll",
    "health__fhir_api": "NHS: patient demographics and contacts (FHIR API)",
    "health__fhir_patient": "NHS: patient demographics (FHIR)",
    "health__hl7v2_adt": "Hospitals and community services: patient messages (HL7 v2)",
    "social_care__case_db": "Children's social care: case management system",
    "social_care__cin_census": "Children's social care: Children in Need census",
    "social_care__ssda903": "Children's social care: looked-after children return (SSDA903)",
}
AGENCIES = {"education": "Education", "health": "Health", "social_care": "Social care"}
ACTIONS = {
    "lookup": "Looked up a child",
    "search": "Searched by name and date of birth",
    "caseload": "Viewed the EHE caseload",
    "break_glass": "Broke the glass",
    "break_glass_review": "Closed a break-glass review",
    "break_glass_reviews": "Listed break-glass overrides",
    "consent_given": "Recorded consent",
    "consent_list": "Listed a child's consents",
    "consent_withdrawn": "Recorded consent withdrawn",
    "subject_access": "Exported a subject access request",
    "audit_query": "Searched the audit log",
    "audit_search": "Searched the audit log",
    "report_sharing": "Made the data-sharing report",
    "report_assurance": "Made the partnership assurance report",
    "accept": "Accepted a possible match",
    "reject": "Rejected a possible match",
    "reopen": "Reopened a review",
    "linkage.review.list": "Listed possible matches",
    "linkage.review.show": "Opened a possible match",
    "linkage.review.accept": "Accepted a possible match",
    "linkage.review.accept_first": "Accepted a possible match with a conflict, as first of two",
    "linkage.review.reject": "Rejected a possible match",
    "linkage.review.reopen": "Reopened a review",
    "merge": "Merged two children",
    "unmerge": "Undid a merge",
    "quarantine_show": "Looked at a held record",
    "quarantine_release": "Released a held batch",
    "quarantine_reject": "Rejected a held record",
    "sign_in": "Signed in",
    "notify_delivery": "Sent an alert to a team inbox",
    "notify_inbox": "Viewed a team inbox",
    "replay": "Replayed a child's record as it stood at a past moment",
    "sign_out": "Signed out",
}
OUTCOMES = {
    "disclosed": "Shown",
    "replayed": "Replayed for a practice review",
    "candidates": "Candidates shown",
    "no_match": "No match",
    "restricted": "Restricted: existence only",
    "break_glass": "Shown under break-glass",
    "refused": "Refused: no agreement covers it",
    "refused_role": "Refused: role not allowed",
    "no_consent": "Refused: no consent in force",
    "no_purpose": "Refused: no purpose given",
    "not_found": "Refused: not found",
    "bad_identifier": "Refused: identifier fails its check",
    "bad_request": "Refused: request incomplete",
    "insufficient_scope": "Refused: the token grants no scope for this",
    "recorded": "Recorded",
    "viewed": "Viewed",
    "values_shown": "Values shown",
    "exported": "Exported",
    "reprocessed": "Reprocessed",
    "rejected": "Rejected",
    "ok": "Done",
    "awaiting_second": "Awaiting a second reviewer",
    "confirmed": "Confirmed by a second reviewer",
    "signed_in": "Signed in",
    "sent": "Sent",
    "delivery_failed": "Not delivered: kept and tried again",
    "signed_out": "Signed out (session revoked)",
    "refused_sign_in": "Refused: the identity provider's claims name no role or organisation here",
}

# Each caseload concern in plain words (``gateway.lookup.caseload``; weights in settings).
CASELOAD_REASONS = {
    "plan_now": "On a {plan} now",
    "looked_after_now": "Looked after by the council now",
    "removed_while_open": "Removed from a school roll while social care had the case open",
    "removed_while_known": "Removed from a school roll after social care had known the child",
    "unseen_no_gp": "No agency has seen the child for over {months} months ({since}), "
    "and no GP registration is known",
    "unseen": "No agency has seen the child for over {months} months ({since})",
    "possibly_seen": "No contact in this child's records for over {months} months ({since}); "
    "a {agency} record that may be this child's, waiting for a person to check, shows a later "
    "one: have the pair checked",
    "held_record": "A {agency} record about this child is held for a data-quality check "
    "since {since}",
    "review_pair": "A {agency} record that may be this child's is waiting for a person to "
    "check, since {since}",
    "open_no_plan": "Social care has the case open now (a referral or assessment, no plan)",
    "missing_education": "On the children missing education list",
    "plan_before": "Had a child protection plan before",
    "looked_after_before": "Was looked after before",
    "cin_before": "Was a child in need before",
    "no_gp": "No GP registration known",
}


def _tables() -> dict[str, str]:
    table: dict[str, str] = {}
    table.update(ROLES)
    table.update({code: p.title for code, p in PURPOSES.items()})
    table.update(SOURCES)
    table.update(AGENCIES)
    table.update(ACTIONS)
    table.update(OUTCOMES)
    return table


WORDS = _tables()


def words(code: object) -> str:
    """The plain words for a code; a clause reference names its clause; an unknown code is
    shown with its underscores as spaces, never hidden."""
    text = "" if code is None else str(code)
    if text in WORDS:
        return WORDS[text]
    if text.startswith("break-glass:"):
        return f"break-glass override {text.split(':', 1)[1]}"
    if "#" in text:  # an agreement clause: nyorks-ehe-2026#ehe-officers
        agreement, clause = text.split("#", 1)
        return f"{clause.replace('-', ' ')} clause of agreement {agreement}"
    return text.replace("__", ": ").replace("_", " ")


def long_date(value: date | datetime | str | None) -> str:
    """23 February 2023 (a time, where there is one, as 14:05)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    day = f"{value.day} {value:%B %Y}"
    return f"{day} {value:%H:%M}" if isinstance(value, datetime) else day
