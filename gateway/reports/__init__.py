"""Reports for people: the run summary, and (later) validation and data-sharing reports."""
