"""The one policy enforcement point: what a person may be shown about a child, and its audit.

Every view that shows anything about a child asks here, never builds a disclosure itself:

- ``disclosure.disclose``: a child's summary (API lookup, web summary), with agreement clause
  fields, consent, break-glass and the restricted verdict (existence and whom to contact);
- ``listings.audited_search``: search candidates (only the agencies the clause covers; a
  restricted child is never scored on where it lives, in ``gateway.lookup.search``);
- ``listings.audited_caseload``: caseload rows (a derived fact only where the clause shares
  every field it comes from; a restricted child's row is existence and contact only);
- ``review_pairs.review_view``: a pair of records waiting for a reviewer (a restricted
  record's address withheld, whichever of the child's records carries the label).

Each appends its audit entry (refusals too) in the caller's transaction; the caller commits
before answering. The restricted verdict comes from ``gateway.read_model``. A new view's rule
goes here, beside these.
"""
