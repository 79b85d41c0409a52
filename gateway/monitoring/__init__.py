"""Operational figures of the pipeline: freshness, counts, quarantine rates, durations."""
