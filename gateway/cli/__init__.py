"""``ehe-gateway``: the gateway's command line (runs every stage without Airflow, too).

One module per group of commands; importing it adds its commands to ``app``.
"""

from gateway.cli import (
    access,
    audit,
    linkage,
    mllp,
    notify,
    pipeline,
    quarantine,
    replay,
    report,
    report_assurance,
    report_sharing,
    review,
    sar,
    serve,
    settings,
)
from gateway.cli.app import app

__all__ = [
    "access",
    "app",
    "audit",
    "linkage",
    "mllp",
    "notify",
    "pipeline",
    "quarantine",
    "replay",
    "report",
    "report_assurance",
    "report_sharing",
    "review",
    "sar",
    "serve",
    "settings",
]
