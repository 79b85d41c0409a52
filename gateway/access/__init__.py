"""Access policy and audit: who may ask, why, and the record of every answer."""
