"""The lookup API (FastAPI), versioned under /api/v1."""
