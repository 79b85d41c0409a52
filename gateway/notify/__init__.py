"""Alerts that connect teams: events about EHE children, found in the index, each sent once to
every team inbox the agreements name for it, by email and webhook, each delivery audited and
retried (``run.notify_teams``). A notification holds the child's id, the event kind, the date
and a link: never a name or any other detail."""
