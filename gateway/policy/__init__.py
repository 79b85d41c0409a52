"""The one policy enforcement point: what a person may be shown about a child, and its audit.

Every view that shows anything about a child asks here, never builds a disclosure itself:

- ``disclosure.disclose``: a child's summary (API lookup, web summary), with agreement clause
  fields, consent, break-glass and the restricted verdict (existence and whom to contact);
- ``listings.audited_search``: search candidates (only the agencies the clause covers; a
  restricted child is never scored on where it lives, in ``gateway.lookup.search``);
- ``listings.audited_caseload`` / ``audited_caseload_page``: caseload rows, filtered and paged
  (a derived fact only where the clause shares every field it comes from; a restricted child's
  row is existence and contact only, listed only when no filter is set), one audit entry a
  view naming the children shown;
- ``listings.searched_sources``: what a "no match" answer says (sources and freshness);
- held-record notices (``disclosure.held_in``; read by ``gateway.read_model.held_notices``):
  an agency and a date for each record held back, never its content, for the agencies the
  clause covers, not for a restricted child;
- ``review_pairs.review_view``: a pair of records waiting for a reviewer (a restricted
  record's address withheld, whichever of the child's records carries the label).

Each appends its audit entry (refusals too) in the caller's transaction; the caller commits
before answering. The restricted verdict comes from ``gateway.read_model``. A new view's rule
goes here, beside these.
"""
